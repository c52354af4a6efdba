// Document parsers: PDF, EPUB 2/3, DOCX and HTML into one shape with exact positions,
// and every bad input refused with its own error code and a message naming the problem.
import fs from 'node:fs';
import path from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { syntheticLocations } from '../../../core/ingest/formats/blocks.js';
import { parseDocument, type ParsedDocument } from '../../../core/ingest/formats/index.js';
import { ZipArchive } from '../../../core/ingest/formats/zip.js';
import { DOCX_HEADINGS, EPUB_CHAPTERS, makeDocumentFixtures, makeEpub3, PDF_CHAPTERS, PDF_SUBHEADING, type DocumentFixtures } from '../../fixtures/documents/make.js';
import { tempDir } from '../../fixtures/texts.js';

let dir: string;
let f: DocumentFixtures;

beforeAll(async () => {
  dir = tempDir('titans-docs-');
  f = await makeDocumentFixtures(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Shape invariants every parser must keep. */
function expectWellFormed(d: ParsedDocument): void {
  expect(d.text).not.toMatch(/\r/);
  expect(d.text).not.toMatch(/\n{3,}/);
  expect(d.text).toBe(d.text.trim());
  expect(d.pages.length).toBeGreaterThan(0);
  for (let i = 0; i < d.pages.length; i++) {
    const p = d.pages[i]!;
    expect(p.start).toBeGreaterThanOrEqual(0);
    expect(p.start).toBeLessThanOrEqual(d.text.length);
    expect(p.number).toBe(i + 1);
    if (i > 0) expect(p.start).toBeGreaterThanOrEqual(d.pages[i - 1]!.start);
  }
  for (const c of d.chapters) {
    expect(d.text.slice(c.start).startsWith(c.title), `chapter "${c.title}" at ${c.start}: ${JSON.stringify(d.text.slice(c.start, c.start + 40))}`).toBe(true);
    expect(c.start === 0 || d.text.slice(c.start - 2, c.start) === '\n\n').toBe(true);
  }
}

async function expectRefused(file: string, code: string, message: RegExp): Promise<ApiError> {
  const error = await parseDocument(file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  const api = error as ApiError;
  expect(api.code).toBe(code);
  expect(api.message).toContain(path.basename(file));
  expect(api.message).toMatch(message);
  expect(api.hint).toBeTruthy();
  return api;
}

describe('HTML', () => {
  it('keeps the article, drops menus, sidebars and footers, and finds headings and metadata', async () => {
    const d = await parseDocument(f.html);
    expectWellFormed(d);
    expect(d).toMatchObject({ format: 'html', title: 'The Quiet Lighthouse', author: 'Ada Keeper' });
    expect(d.text).toContain('Winter paragraph 3.');
    expect(d.text.indexOf('Intro paragraph 1.')).toBeLessThan(d.text.indexOf('Spring paragraph 1.'));
    for (const junk of ['Subscribe now', 'About us', 'Popular posts', 'Ten ways', 'All rights reserved', 'Cookie settings']) expect(d.text).not.toContain(junk);
    expect(d.chapters.map((c) => [c.title, c.level])).toEqual([
      ['The Quiet Lighthouse', 1],
      ['The First Winter', 2],
      ['The Long Spring', 2],
    ]);
    expect(d.text.split('\n\n')).toContain('The First Winter');
  });

  it('keeps <br> as a single line break and <pre> lines, and decodes entities', async () => {
    const file = path.join(dir, 'poem.html');
    fs.writeFileSync(file, '<html><head><title>Poem</title></head><body><h1>A&nbsp;Poem</h1><p>Roses &amp; thorns,<br>violets\r\n blue.</p><pre>line one\r\n  line two</pre></body></html>');
    const d = await parseDocument(file);
    expectWellFormed(d);
    expect(d.text).toContain('Roses & thorns,\nviolets blue.');
    expect(d.text).toContain('line one\n  line two');
  });

  it('falls back to the extension for a fragment without <html>', async () => {
    const file = path.join(dir, 'fragment.htm');
    fs.writeFileSync(file, '<h1>Only a heading</h1><p>And one paragraph of text.</p>');
    const d = await parseDocument(file);
    expect(d.format).toBe('html');
    expect(d.text).toContain('And one paragraph of text.');
  });
});

describe('DOCX', () => {
  it('turns Heading 1-6 styles into chapters and reads core.xml metadata', async () => {
    const d = await parseDocument(f.docx);
    expectWellFormed(d);
    expect(d).toMatchObject({ format: 'docx', title: 'Notes from the Cliff', author: 'Ada Keeper' });
    expect(d.chapters.map((c) => [c.title, c.level])).toEqual(DOCX_HEADINGS);
    expect(d.text).toContain('\n\nDoc2 paragraph 1. The lighthouse');
    expect(d.text).not.toMatch(/base64|data:image/);
    // Synthetic locations every ~1800 characters.
    expect(d.pages.length).toBeGreaterThanOrEqual(2);
    expect(d.pages.every((p) => p.label === null)).toBe(true);
    expect(d.pages[1]!.start).toBeGreaterThan(1500);
    expect(d.pages[1]!.start).toBeLessThan(2400);
  });

  it('refuses a text file named .docx, saying it is not a Word document', async () => {
    await expectRefused(f.docxPlainText, 'unreadable', /not a Word document/);
  });
});

describe('EPUB', () => {
  it('EPUB 3: spine order, nav.xhtml chapters (nested), the page-list and metadata', async () => {
    const d = await parseDocument(f.epub3);
    expectWellFormed(d);
    expect(d).toMatchObject({ format: 'epub', title: "The Keeper's Ledger", author: 'Ada Keeper' });
    expect(d.chapters.map((c) => [c.title, c.level])).toEqual([
      [EPUB_CHAPTERS[0], 1],
      [EPUB_CHAPTERS[1], 1],
      ['The Night of the Wreck', 2],
      [EPUB_CHAPTERS[2], 1],
    ]);
    expect(d.text.indexOf('Ch1 paragraph 8.')).toBeLessThan(d.text.indexOf('Ch2 paragraph 1.'));
    expect(d.text).not.toContain('Contents'); // the nav document is not in the spine
    expect(d.text).not.toContain('p { margin'); // no <style>
    // The book's own page-list: labels 1..6, each at the paragraph it marks.
    expect(d.pages.map((p) => p.label)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(d.text.slice(d.pages[0]!.start)).toMatch(/^Ch1 paragraph 1\./);
    expect(d.text.slice(d.pages[1]!.start)).toMatch(/^Ch1 paragraph 5\./);
    expect(d.text.slice(d.pages[3]!.start)).toMatch(/^The Night of the Wreck\n\nCh2 paragraph 5\./);
  });

  it('EPUB 2: toc.ncx chapters and synthetic locations when there is no page-list', async () => {
    const d = await parseDocument(f.epub2);
    expectWellFormed(d);
    expect(d).toMatchObject({ format: 'epub', title: "The Keeper's Ledger", author: 'Ada Keeper' });
    expect(d.chapters.map((c) => c.title)).toEqual([EPUB_CHAPTERS[0], EPUB_CHAPTERS[1], 'The Night of the Wreck', EPUB_CHAPTERS[2]]);
    expect(d.chapters[2]!.level).toBe(2);
    expect(d.pages.length).toBeGreaterThanOrEqual(3);
    expect(d.pages.every((p) => p.label === null)).toBe(true);
    expect(d.pages).toEqual(syntheticLocations(d.text));
  });

  it('skips remote resources and table-of-contents links that leave the book', async () => {
    const zip = await JSZip.loadAsync(await makeEpub3());
    const opf = (await zip.file('OEBPS/content.opf')!.async('string')).replace('<manifest>', '<manifest><item id="font" href="https://example.com/font.woff2" media-type="font/woff2"/>');
    const nav = (await zip.file('OEBPS/nav.xhtml')!.async('string')).replace('<ol>', '<ol><li><a href="https://example.com/">Publisher website</a></li><li><a href="../../../etc/passwd">Sneaky</a></li>');
    zip.file('OEBPS/content.opf', opf).file('OEBPS/nav.xhtml', nav);
    const file = path.join(dir, 'remote.epub');
    fs.writeFileSync(file, await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }));
    const d = await parseDocument(file);
    expectWellFormed(d);
    expect(d.chapters.map((c) => c.title)).toEqual([EPUB_CHAPTERS[0], EPUB_CHAPTERS[1], 'The Night of the Wreck', EPUB_CHAPTERS[2]]);
  });

  it('names a spine item that is missing from the archive', async () => {
    await expectRefused(f.epubMissingSpine, 'unreadable', /"OEBPS\/chapter2\.html".*missing/);
  });

  it('refuses a zip bomb from its declared size, before inflating anything', async () => {
    const e = await expectRefused(f.epubBomb, 'too_large', /unpack to more than 512 MB/);
    expect(e.hint).toMatch(/zip bomb/);
    // The same archive with a tighter ratio rule names the entry.
    const bytes = fs.readFileSync(f.epubBomb);
    expect(() => ZipArchive.open(bytes, 'bomb.epub', 'EPUB book', { maxTotalBytes: 1024 ** 3, maxRatio: 100, ratioAppliesAbove: 1024 ** 2 })).toThrow(/filler\.xhtml.*compression ratio/);
  });

  it('stops inflating an entry that unpacks to more than it declares', async () => {
    await expectRefused(f.epubLyingSize, 'too_large', /"OEBPS\/chapter1\.html".*more than the 1000 bytes it declares/);
  });

  it('refuses paths that leave the book, in the manifest or in the archive', async () => {
    await expectRefused(f.epubEscapingHref, 'unreadable', /"\.\.\/\.\.\/outside\.xhtml", a path outside the book/);
    await expectRefused(f.epubEscapingEntry, 'unreadable', /unsafe path \("\.\.\//);
  });

  it('refuses a ZIP that is not an EPUB and a truncated EPUB', async () => {
    const truncated = path.join(dir, 'truncated.epub');
    const bytes = await makeEpub3();
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectRefused(truncated, 'unreadable', /not a readable EPUB.*truncated/);
    await expectRefused(f.zipNotEpub, 'unreadable', /not a readable EPUB: META-INF\/container\.xml is missing/);
  });
});

describe('PDF', () => {
  it('reads text page by page with page labels, the outline as chapters, and metadata', async () => {
    const d = await parseDocument(f.pdf);
    expectWellFormed(d);
    expect(d).toMatchObject({ format: 'pdf', title: 'The Keeper Ledger', author: 'Ada Keeper' });
    expect(d.pages.map((p) => [p.number, p.label])).toEqual([
      [1, 'i'],
      [2, 'ii'],
      [3, '1'],
      [4, '2'],
    ]);
    expect(d.chapters.map((c) => [c.title, c.level])).toEqual([
      [PDF_CHAPTERS[0], 1],
      [PDF_CHAPTERS[1], 1],
      [PDF_CHAPTERS[2], 1],
      [PDF_SUBHEADING, 2],
      [PDF_CHAPTERS[3], 1],
    ]);
    // Each top-level outline entry lands on its page, and each page starts with its heading;
    // the nested entry lands on its sub-heading in the middle of page 3.
    const top = d.chapters.filter((c) => c.level === 1);
    top.forEach((c, i) => expect(c.start).toBe(d.pages[i]!.start));
    const sub = d.chapters[3]!;
    expect(sub.start).toBeGreaterThan(d.pages[2]!.start);
    expect(sub.start).toBeLessThan(d.pages[3]!.start);
    expect(d.text.slice(sub.start)).toMatch(/^When the Ice Broke\n\nPage3 paragraph 2\./);
    // Lines are rebuilt (wrapped lines joined by a single LF, words spaced) and paragraphs split.
    const page3 = d.text.slice(d.pages[2]!.start, d.pages[3]!.start).trim();
    expect(page3.split('\n\n')).toHaveLength(4);
    expect(page3).toMatch(/^The Long Spring\n\nPage3 paragraph 1\. The lighthouse stood on the northern cliff/);
    expect(page3.replace(/\n/g, ' ')).toContain('Page3 paragraph 2. Snow came early that year. The keeper counted the ships that passed');
  });

  it('refuses an image-only PDF instead of importing it empty', async () => {
    await expectRefused(f.pdfImageOnly, 'unsupported_format', /no text layer/);
  });

  it('refuses a password-protected PDF', async () => {
    await expectRefused(f.pdfEncrypted, 'unreadable', /protected by a password/);
  });

  it('refuses a corrupt PDF', async () => {
    await expectRefused(f.pdfCorrupt, 'unreadable', /not a valid PDF|could not be opened as a PDF|damaged/);
  });
});

describe('parseDocument', () => {
  it('parses a file by what it is, not by its name', async () => {
    const d = await parseDocument(f.pdfNamedEpub);
    expect(d.format).toBe('pdf');
    const renamed = path.join(dir, 'book.pdf');
    fs.copyFileSync(f.epub3, renamed);
    expect((await parseDocument(renamed)).format).toBe('epub');
    const docxAsHtml = path.join(dir, 'notes.html');
    fs.copyFileSync(f.docx, docxAsHtml);
    expect((await parseDocument(docxAsHtml)).format).toBe('docx');
  });

  it('refuses empty files', async () => {
    await expectRefused(f.empty, 'empty_file', /is empty/);
  });

  it('refuses a file over maxBytes without reading it', async () => {
    // A sparse 2 GB file: reading it whole would take seconds and 2 GB of memory.
    const huge = path.join(dir, 'huge.pdf');
    const fd = fs.openSync(huge, 'w');
    fs.writeSync(fd, '%PDF-1.7\n');
    fs.ftruncateSync(fd, 2 * 1024 ** 3);
    fs.closeSync(fd);
    const started = Date.now();
    await expectRefused(huge, 'too_large', /2\.0 GiB, larger than the 1 GiB limit/);
    expect(Date.now() - started).toBeLessThan(1000);
    const small = await parseDocument(f.html, { maxBytes: 100 }).catch((e: unknown) => e);
    expect((small as ApiError).code).toBe('too_large');
    fs.rmSync(huge);
  });

  it('refuses formats it does not know', async () => {
    const file = path.join(dir, 'image.png');
    fs.writeFileSync(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    await expectRefused(file, 'unsupported_format', /not a PDF, EPUB, Word \(\.docx\) or HTML document/);
  });
});
