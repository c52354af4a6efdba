import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importTextFile } from '../../../core/library/importer.js';
import { findInDocument, getDetail, listDocuments, readBlocks } from '../../../core/library/queries.js';
import { encode, makeBook, RUSSIAN, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = tempDir();
  db = openDatabase(path.join(dir, 'library.sqlite'));
});
afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function fullText(id: number): string {
  return readBlocks(db, id, 0, 64)
    .map((b) => b.text)
    .join('');
}

describe('import of plain text', () => {
  it('keeps the text exactly, with positions, chapters, title and author', async () => {
    const book = makeBook({ chapters: 12, paragraphsPerChapter: 30, seed: 7 });
    const file = writeFile(dir, 'book.txt', book);
    const { document, duplicate } = await importTextFile(db, file);
    expect(duplicate).toBe(false);
    expect(document.title).toBe('The Generated Book');
    expect(document.author).toBe('Test Fixture');
    expect(document.chars).toBe(book.length);
    expect(document.lines).toBe(book.split('\n').length - 1);
    const detail = getDetail(db, document.id);
    expect(detail.blocks.length).toBeGreaterThan(1);
    // blocks tile the text without gaps, and each one starts on a line
    let offset = 0;
    for (const b of detail.blocks) {
      expect(b.start).toBe(offset);
      expect(b.line).toBe(book.slice(0, b.start).split('\n').length);
      offset += b.length;
    }
    expect(offset).toBe(book.length);
    expect(fullText(document.id)).toBe(book);
    expect(detail.chapterList.map((c) => c.title)).toEqual(Array.from({ length: 12 }, (_, i) => `CHAPTER ${i + 1}`));
    for (const c of detail.chapterList) {
      expect(book.slice(c.start, c.start + c.title.length)).toBe(c.title);
      expect(book.split('\n')[c.line - 1]).toBe(c.title);
    }
  });

  it('normalizes CRLF and CR line ends to LF', async () => {
    const file = writeFile(dir, 'crlf.txt', 'one\r\ntwo\rthree\r\n');
    const { document } = await importTextFile(db, file);
    expect(fullText(document.id)).toBe('one\ntwo\nthree\n');
    expect(document.lines).toBe(3);
  });

  it('reports a second import of the same file as a duplicate and adds nothing', async () => {
    const file = writeFile(dir, 'a.txt', 'Same text.\n');
    const first = await importTextFile(db, file);
    const second = await importTextFile(db, writeFile(dir, 'copy.txt', 'Same text.\n'));
    expect(second.duplicate).toBe(true);
    expect(second.document.id).toBe(first.document.id);
    expect(listDocuments(db)).toHaveLength(1);
  });
});

describe('encodings', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['utf-8 with BOM', encode(RUSSIAN, 'utf-8', true)],
    ['utf-8 without BOM', encode(RUSSIAN, 'utf-8')],
    ['utf-16le with BOM', encode(RUSSIAN, 'utf-16le', true)],
    ['utf-16be with BOM', encode(RUSSIAN, 'utf-16be', true)],
    ['windows-1251', encode(RUSSIAN.repeat(20), 'windows-1251')],
    ['koi8-r', encode(RUSSIAN.repeat(20), 'koi8-r')],
  ];
  for (const [label, bytes] of cases) {
    it(`decodes ${label}`, async () => {
      const file = writeFile(dir, `${label.replace(/\W+/g, '-')}.txt`, bytes);
      const { document } = await importTextFile(db, file);
      const text = fullText(document.id);
      expect(text.startsWith(RUSSIAN)).toBe(true);
      expect(document.encoding).toBe(label.split(' ')[0]);
      expect(getDetail(db, document.id).chapterList[0]?.title).toBe('Глава 1');
    });
  }

  it('decodes Windows-1252 Western text', async () => {
    const text = 'Café, naïve façade: déjà vu — “quoted” and ‘single’ marks, œuvre, Ærø, Straße.\n'.repeat(30);
    const file = writeFile(dir, 'western.txt', encode(text, 'windows-1252'));
    const { document } = await importTextFile(db, file);
    expect(fullText(document.id)).toBe(text);
  });

  it('switches to a legacy code page when invalid UTF-8 appears after a valid start', async () => {
    const ascii = 'plain ascii line\n'.repeat(5000); // > the 64 KiB sniffing sample
    const bytes = Buffer.concat([Buffer.from(ascii), encode(RUSSIAN.repeat(10), 'windows-1251')]);
    const file = writeFile(dir, 'late.txt', bytes);
    const { document } = await importTextFile(db, file);
    expect(document.encoding).toBe('windows-1251');
    expect(fullText(document.id)).toBe(ascii + RUSSIAN.repeat(10));
  });
});

describe('markdown', () => {
  it('takes headings (ATX and setext) as chapters, skipping code fences, and front matter as metadata', async () => {
    const md = ['---', 'title: "A Field Guide"', 'author: Ada', '---', '', '# Birds', '', 'Text.', '', '```', '# not a heading', '```', '', '## Small birds ##', '', 'Owls', '====', '', 'end'].join('\n');
    const file = writeFile(dir, 'guide.md', md);
    const { document } = await importTextFile(db, file);
    expect(document.format).toBe('markdown');
    expect(document.title).toBe('A Field Guide');
    expect(document.author).toBe('Ada');
    const chapters = getDetail(db, document.id).chapterList;
    expect(chapters.map((c) => [c.title, c.level])).toEqual([
      ['Birds', 1],
      ['Small birds', 2],
      ['Owls', 1],
    ]);
    for (const c of chapters) expect(md.split('\n')[c.line - 1]).toContain(c.title);
  });
});

describe('find in document', () => {
  it('finds every occurrence with its line, case-insensitively, including across block boundaries', async () => {
    const book = makeBook({ chapters: 30, paragraphsPerChapter: 20, seed: 3 });
    const { document } = await importTextFile(db, writeFile(dir, 'b.txt', book));
    const result = findInDocument(db, document.id, 'LIGHTHOUSE keeper', false, 1000);
    const expected = [...book.matchAll(/lighthouse keeper/gi)];
    expect(result.matches).toHaveLength(expected.length);
    result.matches.forEach((m, i) => {
      expect(m.start).toBe(expected[i]!.index);
      expect(book.slice(m.start, m.end).toLowerCase()).toBe('lighthouse keeper');
      expect(m.line).toBe(book.slice(0, m.start).split('\n').length);
    });
    expect(findInDocument(db, document.id, 'LIGHTHOUSE keeper', true, 1000).matches).toHaveLength(0);
    expect(findInDocument(db, document.id, 'gulls', false, 5)).toMatchObject({ truncated: true });
  });

  it('finds a phrase that spans two stored blocks', async () => {
    const filler = 'x'.repeat(100) + '\n';
    // 162 lines of 101 characters, then a line that fills the first block past its target size
    const text = filler.repeat(162) + 'y'.repeat(20) + ' needle\nin the haystack\n' + filler.repeat(200);
    const { document } = await importTextFile(db, writeFile(dir, 'span.txt', text));
    const blocks = getDetail(db, document.id).blocks;
    const at = text.indexOf('needle\nin');
    expect(blocks.some((b) => b.start > at && b.start < at + 16)).toBe(true); // the phrase straddles a boundary
    const { matches } = findInDocument(db, document.id, 'needle\nin the', false, 10);
    expect(matches.map((m) => m.start)).toEqual([at]);
  });
});
