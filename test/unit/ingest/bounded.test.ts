// The parsers are bounded (issue 13): each archive entry is inflated once and what is inflated
// counts against the archive's limit; the text of a document is capped; and no scan over
// untrusted markup or text backtracks. The pathological inputs below froze the old code for
// seconds to hours; the test timeouts are the bound (timing itself is not asserted).
import fs from 'node:fs';
import path from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { expandSelfClosing, findHeading, parseMarkup, stripXmlDeclaration, syntheticLocations, TextBuilder, walkDom } from '../../../core/ingest/formats/blocks.js';
import { detectFormat } from '../../../core/ingest/detect.js';
import { parseDocument } from '../../../core/ingest/formats/index.js';
import { pageParagraphs } from '../../../core/ingest/formats/pdf.js';
import { ZipArchive } from '../../../core/ingest/formats/zip.js';
import { headingOfMarkdownLine, metaLine } from '../../../core/ingest/headings.js';
import { DEFAULT_PARSE_LIMITS, MAX_DOCUMENT_CHARS, textTooLong } from '../../../core/ingest/limits.js';
import { asParseError } from '../../../core/ingest/limits.js';
import { patchDeclaredSize } from '../../fixtures/documents/make.js';
import { CHAPTER_LINE, makeLongTocEpub, makeRepeatedSpineEpub, unclosedTagHtml } from '../../fixtures/documents/hostile.js';
import { tempDir } from '../../fixtures/texts.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('titans-bounded-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, data: string | Buffer) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
};

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApiError);
  return e as ApiError;
}

describe('archives', () => {
  it('a ~15 KB EPUB whose spine lists one 4 MB chapter 20,000 times parses to that chapter once', async () => {
    const { bytes, chapterText } = await makeRepeatedSpineEpub();
    expect(bytes.length).toBeLessThan(40 * 1024);
    const d = await parseDocument(write('repeated.epub', bytes));
    expect(d.text).toBe(`The Big Chapter\n\n${chapterText}`);
    expect(d.chapters.map((c) => c.title)).toEqual(['The Big Chapter']);
  }, 30_000);

  it('inflates each entry once, however often it is read, and counts it once', async () => {
    const zipBytes = await new JSZip().file('a.txt', CHAPTER_LINE.repeat(10_000)).generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
    const zip = ZipArchive.open(zipBytes, 'a.zip', 'archive', { maxTotalBytes: 1024 * 1024, maxRatio: 100, ratioAppliesAbove: 8 * 1024 * 1024 });
    const first = zip.read('a.txt');
    for (let i = 0; i < 1000; i++) expect(zip.read('a.txt')).toBe(first);
    expect(zip.unpackedBytes).toBe(CHAPTER_LINE.length * 10_000);
  });

  it('counts what is really unpacked against the total, not what the entries declare', async () => {
    // A stored (uncompressed) entry of 2 MB that declares 10 bytes: its declared size passes a 1 MB
    // limit, its real size does not.
    const stored = await new JSZip().file('big.bin', Buffer.alloc(2 * 1024 * 1024, 0x61), { compression: 'STORE' }).generateAsync({ type: 'nodebuffer' });
    const zip = ZipArchive.open(patchDeclaredSize(stored, 'big.bin', 10), 'lying.zip', 'archive', { maxTotalBytes: 1024 * 1024, maxRatio: 100, ratioAppliesAbove: 8 * 1024 * 1024 });
    expect(() => zip.read('big.bin')).toThrow(/would unpack to more than 1 MB/);
  });

  it('a central directory whose fields point past the end of the file is damage, not a crash', async () => {
    const good = await new JSZip().file('a.txt', 'hello').generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
    const bad = Buffer.from(good);
    let eocd = bad.length - 22;
    while (bad.readUInt32LE(eocd) !== 0x06054b50) eocd--;
    const cd = bad.readUInt32LE(eocd + 16);
    bad.writeUInt16LE(0xffff, cd + 30); // extra field length far past the end
    bad.writeUInt16LE(0x0001, cd + 46 + 5); // ...starting with a ZIP64 record
    bad.writeUInt16LE(0xfff0, cd + 46 + 7);
    bad.writeUInt32LE(0xffffffff, cd + 24);
    const e = (() => {
      try {
        ZipArchive.open(bad, 'bad.zip', 'archive');
        return null;
      } catch (err) {
        return err;
      }
    })();
    // Either the entry is read as damaged later, or the directory is refused now: never a RangeError.
    if (e !== null) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toMatch(/unreadable|too_large/);
    }
  });
});

describe('the text of a document is capped', () => {
  it('at 128 Mi UTF-16 code units (256 MB), with a message naming the limit and what to do', () => {
    expect(MAX_DOCUMENT_CHARS).toBe(128 * 1024 * 1024);
    expect(DEFAULT_PARSE_LIMITS.maxChars).toBe(MAX_DOCUMENT_CHARS);
    const e = textTooLong('huge.epub', MAX_DOCUMENT_CHARS);
    expect(e.code).toBe('too_large');
    expect(e.message).toBe('huge.epub has more than 134.2 million characters of text (256 MB in memory), the limit for one document.');
    expect(e.hint).toMatch(/split it into smaller files/i);
  });

  it('a TextBuilder refuses to pass the limit, paragraph by paragraph and inside one', () => {
    const out = new TextBuilder('book.html', 100);
    out.add('x'.repeat(60));
    expect(() => out.add('y'.repeat(60))).toThrow(/book\.html has more than 100 characters of text/);
    const { document } = parseMarkup(`<p>${'word '.repeat(1000)}</p>`);
    expect(() => walkDom(document.body!, new TextBuilder('one.html', 1000))).toThrow(/one\.html has more than 1,000 characters/);
  });

  it('each format stops at the limit it is given', async () => {
    const { bytes } = await makeRepeatedSpineEpub(3, 64 * 1024);
    const e = await refusal(parseDocument(write('capped.epub', bytes), { maxChars: 10_000 }));
    expect(e.code).toBe('too_large');
    expect(e.message).toMatch(/capped\.epub has more than 10,000 characters of text/);
    const html = await refusal(parseDocument(write('capped.html', `<html><body>${'<p>Some words in a paragraph.</p>'.repeat(2000)}</body></html>`), { maxChars: 10_000 }));
    expect(html.message).toMatch(/capped\.html has more than 10,000 characters/);
  });

  it('a string too long for the engine is reported as the text limit', () => {
    const e = asParseError(new RangeError('Invalid string length'), 'x.html', MAX_DOCUMENT_CHARS);
    expect(e.code).toBe('too_large');
    expect(asParseError(new RangeError('Maximum call stack size exceeded'), 'x.html', 1).message).toMatch(/nested too deeply/);
    expect(asParseError(new TypeError('boom'), 'x.html', 1)).toMatchObject({ code: 'unreadable' });
  });
});

describe('no scan over untrusted input backtracks', () => {
  it('"<a" and 100,000 spaces (28 s with the old tag regex)', () => {
    expect(expandSelfClosing(`<a${' '.repeat(100_000)}`)).toBe(`<a${' '.repeat(100_000)}`);
    expect(expandSelfClosing(`<a${' '.repeat(100_000)}/>`)).toBe('<a></a>');
    expect(expandSelfClosing('<p>x<span id="a"/>y<br/><img src="i.png" /></p>')).toBe('<p>x<span id="a"></span>y<br/><img src="i.png" /></p>');
    // many unclosed tags in a row: each '<' looks only as far as the next one
    expect(expandSelfClosing('<a '.repeat(200_000)).length).toBe(600_000);
    const d = parseMarkup(unclosedTagHtml(300_000)).document;
    expect(d.body!.textContent).toContain('Before the trap.');
  }, 15_000);

  it('"<?xml" a hundred thousand times without a ">"', () => {
    const markup = '<?xml'.repeat(100_000);
    expect(stripXmlDeclaration(markup)).toBe(markup);
    expect(stripXmlDeclaration('<?xml version="1.0"?><html/>')).toBe('<html/>');
  }, 15_000);

  it('a run of comments before the start of a page (exponential in the old sniffing regex)', async () => {
    const bytes = Buffer.from('<!---->'.repeat(580) + 'x');
    expect(detectFormat(bytes, 'comments.html')).toBe('html');
    expect(() => detectFormat(bytes, 'comments.bin')).toThrow(/not a PDF, EPUB, Word/);
    expect(detectFormat(Buffer.from('<?xml version="1.0"?>\n<!-- a -->\n<!DOCTYPE html><p>'), 'page')).toBe('html');
  }, 15_000);

  it('a line of a million spaces between two words', () => {
    const out = new TextBuilder();
    out.add(`a${' '.repeat(1_000_000)}b${' '.repeat(10)}`);
    expect(out.toString()).toBe(`a${' '.repeat(1_000_000)}b`);
  }, 15_000);

  it('Markdown headings and metadata lines of 60,000 spaces', () => {
    const spaces = ' '.repeat(60_000);
    for (let i = 0; i < 20; i++) {
      expect(headingOfMarkdownLine(`# a${spaces}x`)).toEqual({ title: `a${spaces}x`, level: 1 });
      expect(metaLine(`title: a${spaces}x`, false)).toEqual({ key: 'title', value: `a${spaces}x` });
      expect(metaLine(`title: "a${spaces}x`, true)).toEqual({ key: 'title', value: `a${spaces}x` });
    }
    expect(headingOfMarkdownLine('## Closing hashes ##  ')).toEqual({ title: 'Closing hashes', level: 2 });
    expect(headingOfMarkdownLine('####### seven')).toBeNull();
    expect(headingOfMarkdownLine('    # indented code')).toBeNull();
    expect(metaLine("Author: 'Ada Keeper'", true)).toEqual({ key: 'author', value: 'Ada Keeper' });
    expect(metaLine('Title:    ', false)).toBeNull();
  }, 20_000);

  it('locations in a 20-million-character text without paragraph breaks', () => {
    const text = 'word '.repeat(4_000_000).trim();
    const pages = syntheticLocations(text);
    expect(pages.length).toBeGreaterThan(10_000);
    for (let i = 1; i < pages.length; i++) expect(pages[i]!.start - pages[i - 1]!.start).toBeLessThanOrEqual(1805);
  }, 20_000);

  it('headings that are not in the text are looked for near their place only', () => {
    const text = 'Some paragraph text. '.repeat(200_000);
    for (let i = 0; i < 20_000; i++) expect(findHeading(text, `Missing heading ${i}`, i * 10, i * 10 + 400)).toBe(-1);
    expect(findHeading('intro\n\nThe   Title here', 'The Title', 0, 10)).toBe(7);
  }, 20_000);

  it('an EPUB with 20,000 table-of-contents entries that match no heading', async () => {
    const d = await parseDocument(write('long-toc.epub', await makeLongTocEpub(20_000, 20_000)));
    expect(d.chapters.length).toBe(20_000);
    expect(d.text).toContain('Paragraph 19999 of a long chapter');
  }, 30_000);

  it('a PDF line of 200,000 text items', () => {
    const items = Array.from({ length: 200_000 }, (_, i) => ({ str: 'ab', transform: [1, 0, 0, 10, i * 20, 700], width: 10, height: 10, hasEOL: false }));
    const [paragraph] = pageParagraphs(items);
    expect(paragraph!.length).toBe(200_000 * 3 - 1);
  }, 20_000);

  it('elements nested 30,000 deep are walked without overflowing the stack', () => {
    const { document } = parseMarkup(`${'<div>'.repeat(30_000)}deep text${'</div>'.repeat(30_000)}`);
    const out = new TextBuilder();
    walkDom(document.body!, out);
    expect(out.toString()).toBe('deep text');
  }, 30_000);
});
