// Every format imports into the library with its positions (pages, chapters with lines, passages in
// FTS5), and each bad document fails alone: nothing added, nothing else lost, a specific message.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { deleteDocument, getDetail, listDocuments, readBlocks } from '../../../core/library/queries.js';
import { EPUB_CHAPTERS, makeDocumentFixtures, PDF_CHAPTERS, type DocumentFixtures } from '../../fixtures/documents/make.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let db: Db;
let f: DocumentFixtures;

beforeAll(async () => {
  dir = tempDir('titans-import-formats-');
  db = openDatabase(path.join(dir, 'library.sqlite'));
  f = await makeDocumentFixtures(dir);
});
afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const fullText = (id: number) => readBlocks(db, id, 0, 64).map((b) => b.text).join('');
const search = (query: string) =>
  db
    .prepare(`SELECT p.doc_id AS docId, p.start_char AS start, p.end_char AS end FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts)`)
    .all(query) as Array<{ docId: number; start: number; end: number }>;

/** Positions are consistent: chapters start on their line and title, pages are ordered, passages tile the text. */
function expectPositions(id: number): void {
  const d = getDetail(db, id);
  const text = fullText(id);
  expect(text.length).toBe(d.chars);
  for (const c of d.chapterList) {
    expect(text.slice(c.start, c.start + c.title.length + 8)).toContain(c.title);
    expect(text.slice(0, c.start).split('\n').length).toBe(c.line);
  }
  d.pageList.forEach((p, i) => {
    expect(p.number).toBe(i + 1);
    if (i > 0) expect(p.start).toBeGreaterThanOrEqual(d.pageList[i - 1]!.start);
  });
  const passages = db.prepare(`SELECT start_char AS start, end_char AS end FROM passages WHERE doc_id = ? ORDER BY idx`).all(id) as Array<{ start: number; end: number }>;
  expect(passages.length).toBeGreaterThan(0);
  // passages cover the text in order; what lies between two is white space (a blank line before a chapter)
  for (let i = 1; i < passages.length; i++) {
    expect(passages[i]!.start).toBeGreaterThanOrEqual(passages[i - 1]!.end);
    expect(text.slice(passages[i - 1]!.end, passages[i]!.start).trim()).toBe('');
  }
  expect(text.slice(passages.at(-1)!.end).trim()).toBe('');
  // and none crosses a chapter start
  for (const c of d.chapterList) for (const p of passages) expect(c.start <= p.start || c.start >= p.end).toBe(true);
}

describe('importing every format', () => {
  it('PDF: text per page with labels, the outline as chapters, metadata, passages', async () => {
    const { document: d } = await importFile(db, f.pdf);
    expect(d).toMatchObject({ format: 'pdf', title: 'The Keeper Ledger', author: 'Ada Keeper', pages: 4, chapters: 5 });
    const detail = getDetail(db, d.id);
    expect(detail.pageList.map((p) => p.label)).toEqual(['i', 'ii', '1', '2']);
    expect(detail.chapterList.filter((c) => c.level === 1).map((c) => c.title)).toEqual(PDF_CHAPTERS);
    expectPositions(d.id);
    // the passage that holds a phrase of page 3 is found by full-text search, at its place
    const hits = search('"Page3 paragraph 2"').filter((h) => h.docId === d.id);
    expect(hits.length).toBeGreaterThan(0);
    expect(fullText(d.id).slice(hits[0]!.start, hits[0]!.end)).toContain('Page3 paragraph 2.');
    expect(hits[0]!.start).toBeGreaterThanOrEqual(detail.pageList[2]!.start);
    expect(hits[0]!.end).toBeLessThanOrEqual(detail.pageList[3]!.start);
  });

  it('EPUB 3 and EPUB 2: spine order, the table of contents as chapters, page list or locations', async () => {
    const three = (await importFile(db, f.epub3)).document;
    expect(three.format).toBe('epub');
    expect(getDetail(db, three.id).chapterList.map((c) => c.title)).toEqual(expect.arrayContaining(EPUB_CHAPTERS));
    expect(three.pages).toBeGreaterThan(0);
    expectPositions(three.id);
    const two = (await importFile(db, f.epub2)).document;
    expect(two.chapters).toBeGreaterThan(0);
    expectPositions(two.id);
  });

  it('DOCX and HTML: headings as chapters, main content only, locations', async () => {
    const docx = (await importFile(db, f.docx)).document;
    expect(docx.format).toBe('docx');
    expect(docx.chapters).toBeGreaterThan(0);
    expectPositions(docx.id);
    const html = (await importFile(db, f.html)).document;
    expect(html).toMatchObject({ format: 'html', title: 'The Quiet Lighthouse' });
    expect(fullText(html.id)).not.toContain('Cookie settings');
    expectPositions(html.id);
  });

  it('Markdown and text: chapters from headings, passages searchable', async () => {
    const md = (await importFile(db, writeFile(dir, 'notes.md', '# Notes\n\nFirst paragraph about cormorants.\n\n## Later\n\nSecond one.\n'))).document;
    expect(md).toMatchObject({ format: 'markdown', title: 'Notes', chapters: 2, pages: 0 });
    expectPositions(md.id);
    const txt = (await importFile(db, writeFile(dir, 'book.txt', makeBook({ chapters: 4, paragraphsPerChapter: 30, seed: 3 })))).document;
    expect(txt.chapters).toBe(4);
    expectPositions(txt.id);
    expect(search('cormorants').map((h) => h.docId)).toEqual([md.id]);
  });

  it('a real PDF named .epub imports as a PDF', async () => {
    const renamed = path.join(dir, 'ledger-copy.txt');
    fs.copyFileSync(f.pdfNamedEpub, renamed);
    fs.appendFileSync(renamed, '\n% a changed byte so it is not a duplicate\n');
    const { document } = await importFile(db, renamed);
    expect(document.format).toBe('pdf');
  });

  it('deleting a document removes its passages from the index', async () => {
    const { document } = await importFile(db, writeFile(dir, 'gone.txt', 'The zeppelin drifted over Lisbon at dawn.\n'));
    expect(search('zeppelin')).toHaveLength(1);
    deleteDocument(db, document.id);
    expect(search('zeppelin')).toHaveLength(0);
    expect(db.prepare(`SELECT count(*) FROM passages WHERE doc_id = ?`).pluck().get(document.id)).toBe(0);
  });
});

describe('bad documents fail alone', () => {
  async function expectRejected(file: string, code: string, message: RegExp): Promise<void> {
    const before = listDocuments(db);
    const texts = new Map(before.map((d) => [d.id, fullText(d.id)]));
    const passages = db.prepare(`SELECT count(*) FROM passages`).pluck().get();
    const error = await importFile(db, file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe(code);
    expect((error as ApiError).message).toMatch(message);
    expect((error as ApiError).hint ?? '').not.toBe('');
    expect(listDocuments(db)).toEqual(before);
    for (const [id, text] of texts) expect(fullText(id)).toBe(text);
    expect(db.prepare(`SELECT count(*) FROM passages`).pluck().get()).toBe(passages);
    expect(db.prepare(`SELECT count(*) FROM documents WHERE status != 'ready'`).pluck().get()).toBe(0);
  }

  beforeAll(async () => {
    if (listDocuments(db).length === 0) await importFile(db, f.html);
  });

  it('a corrupt PDF', () => expectRejected(f.pdfCorrupt, 'unreadable', /broken\.pdf .*(not a valid PDF|could not be opened|damaged)/));
  it('an encrypted PDF', () => expectRejected(f.pdfEncrypted, 'unreadable', /protected by a password/));
  it('an image-only PDF (a scan without text)', () => expectRejected(f.pdfImageOnly, 'unsupported_format', /no text layer/));
  it('an EPUB with a missing spine item', () => expectRejected(f.epubMissingSpine, 'unreadable', /chapter2\.html.*missing/));
  it('a zip bomb disguised as an EPUB', () => expectRejected(f.epubBomb, 'too_large', /bomb\.epub/));
  it('an EPUB whose paths try to leave its folder', async () => {
    await expectRejected(f.epubEscapingHref, 'unreadable', /outside the book/);
    await expectRejected(f.epubEscapingEntry, 'unreadable', /outside the book|escape/);
  });
  it('a DOCX that is not a ZIP file', () => expectRejected(f.docxPlainText, 'unreadable', /plain\.docx .*not a Word document|not a ZIP/));
  it('a 1 GB file, refused before it is read', async () => {
    const huge = path.join(dir, 'huge.pdf');
    const fd = fs.openSync(huge, 'w');
    fs.writeSync(fd, '%PDF-1.7\n');
    fs.ftruncateSync(fd, 1024 ** 3 + 1);
    fs.closeSync(fd);
    await expectRejected(huge, 'too_large', /huge\.pdf is 1\.0 GiB/);
    fs.rmSync(huge);
  });
});
