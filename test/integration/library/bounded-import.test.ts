// Issue 13's importer cases through the real importer into a real library: the files that killed
// or froze the app now import (or fail alone, with a message naming the limit), in a parse worker
// with a time and a heap limit, and the library keeps what it had.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile, importTextFile } from '../../../core/library/importer.js';
import { closeParseWorkers } from '../../../core/ingest/parse-in-worker.js';
import { getDetail, listDocuments, readBlocks } from '../../../core/library/queries.js';
import { buildEpub, chapter, makeRepeatedSpineEpub, unclosedTagHtml } from '../../fixtures/documents/hostile.js';
import { makeEpub3 } from '../../fixtures/documents/make.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let db: Db;
let keeperId: number;
let keeperEpubId: number;
let keeperEpubText: string;
const keeperText = makeBook({ chapters: 3, paragraphsPerChapter: 5, seed: 13, title: 'Keeper' });

const fullText = (id: number) => readBlocks(db, id, 0, 100_000).map((b) => b.text).join('');

beforeAll(async () => {
  dir = tempDir('titans-bounded-import-');
  db = openDatabase(path.join(dir, 'library.sqlite'));
  keeperId = (await importTextFile(db, writeFile(dir, 'keeper.txt', keeperText))).document.id;
  keeperEpubId = (await importFile(db, writeFile(dir, 'keeper.epub', await makeEpub3()))).document.id;
  keeperEpubText = fullText(keeperEpubId);
}, 60_000);
afterAll(async () => {
  await closeParseWorkers();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The documents imported before are whole, and nothing half-imported is left. */
function expectLibraryIntact(): void {
  expect(fullText(keeperId)).toBe(keeperText);
  expect(fullText(keeperEpubId)).toBe(keeperEpubText);
  expect(db.prepare(`SELECT count(*) FROM documents WHERE status != 'ready'`).pluck().get()).toBe(0);
  expect(db.prepare('PRAGMA integrity_check').pluck().get()).toBe('ok');
}

async function expectRefused(p: Promise<unknown>, code: string, message: RegExp, withHint = true): Promise<ApiError> {
  const before = listDocuments(db);
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApiError);
  expect((e as ApiError).code).toBe(code);
  expect((e as ApiError).message).toMatch(message);
  if (withHint) expect((e as ApiError).hint ?? '').not.toBe('');
  expect(listDocuments(db)).toEqual(before);
  expectLibraryIntact();
  return e as ApiError;
}

/** A page heavy for the parser (a DOM of 100,000 paragraphs, Readability over it). */
function heavyHtml(): string {
  return `<html><head><title>Heavy</title></head><body>${Array.from({ length: 100_000 }, (_, i) => `<p>Paragraph ${i} of a heavy page.</p>`).join('')}</body></html>`;
}

describe('hostile documents import bounded', () => {
  it('the ~15 KB EPUB whose spine repeats a 4 MB chapter 20,000 times imports once, without running out of memory', async () => {
    const { bytes, chapterText } = await makeRepeatedSpineEpub();
    expect(bytes.length).toBeLessThan(40 * 1024);
    const { document } = await importFile(db, writeFile(dir, 'repeated.epub', bytes));
    expect(document.chars).toBe('The Big Chapter\n\n'.length + chapterText.length);
    expect(fullText(document.id)).toBe(`The Big Chapter\n\n${chapterText}`);
    expect(getDetail(db, document.id).chapterList.map((c) => c.title)).toEqual(['The Big Chapter']);
    expectLibraryIntact();
  }, 60_000);

  it('an HTML file of "<a" and 100,000 spaces imports (it froze the app for 28 s)', async () => {
    const { document } = await importFile(db, writeFile(dir, 'trap.html', unclosedTagHtml(100_000)));
    expect(fullText(document.id)).toBe('Trap\n\nBefore the trap.'); // the <title> as the first heading, then the body
    // Four such tags in one page (each cost the old pattern its length squared).
    const four = unclosedTagHtml(100_000).repeat(4);
    expect(fullText((await importFile(db, writeFile(dir, 'trap4.html', four))).document.id)).toContain('Before the trap.');
    expectLibraryIntact();
  }, 20_000);

  it('so does an EPUB chapter with the same trap, several times over', async () => {
    const trap = `<p>Chapter text.</p><a${' '.repeat(100_000)}`;
    const bytes = await buildEpub({
      files: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`c${i}.xhtml`, chapter(`C${i}`, `<h1>Part ${i}</h1>${trap}`)])),
      spine: Array.from({ length: 5 }, (_, i) => `c${i}`),
    });
    const { document } = await importFile(db, writeFile(dir, 'trap.epub', bytes));
    expect(fullText(document.id)).toContain('Part 4\n\nChapter text.');
    expectLibraryIntact();
  }, 20_000);

  it('Markdown whose lines are long runs of spaces imports (the heading and metadata patterns backtracked)', async () => {
    const spaces = ' '.repeat(60_000);
    const md = `---\ntitle: "A${spaces}B\n---\n\n${Array.from({ length: 20 }, (_, i) => `# Heading ${i}${spaces}x\n\ntext ${i}\n`).join('\n')}`;
    const { document } = await importFile(db, writeFile(dir, 'spaces.md', md));
    expect(document.chapters).toBe(20);
    const txt = `Title: A${spaces}B\n\n${Array.from({ length: 20 }, () => `Author: a${spaces}x`).join('\n')}\n`;
    expect((await importFile(db, writeFile(dir, 'spaces.txt', txt))).document.title).toBe(`A${spaces}B`.slice(0, 500));
    expectLibraryIntact();
  }, 30_000);

  it('a page that starts with a long run of comments is read (the sniffing pattern was exponential)', async () => {
    const { document } = await importFile(db, writeFile(dir, 'comments.html', '<!---->'.repeat(600) + '<p>After the comments.</p>'));
    expect(fullText(document.id)).toBe('After the comments.');
    await expectRefused(importFile(db, writeFile(dir, 'comments.bin.html', '<!---->'.repeat(600))), 'empty_file', /comments\.bin\.html holds no readable text/);
  }, 20_000);
});

describe('limits', () => {
  it('a document over the text limit fails with the limit in the message', async () => {
    const bytes = await buildEpub({
      files: { 'long.xhtml': chapter('Long', '<p>Some words in a paragraph of the book.</p>'.repeat(1000)) },
      spine: ['long'],
    });
    const e = await expectRefused(importFile(db, writeFile(dir, 'long.epub', bytes), { limits: { maxChars: 10_000 } }), 'too_large', /long\.epub has more than 10,000 characters of text \(20 KB in memory\), the limit for one document/);
    expect(e.hint).toMatch(/split it into smaller files/i);
  }, 30_000);

  it('a parse that needs more memory than the heap limit fails alone, naming the limit', async () => {
    await expectRefused(importFile(db, writeFile(dir, 'heavy.html', heavyHtml()), { limits: { maxHeapMb: 64 } }), 'too_large', /Reading heavy\.html needed more than 64 MB of memory, the limit for one document/);
  }, 60_000);

  it('a parse that takes longer than the time limit is stopped, naming the limit', async () => {
    await expectRefused(importFile(db, writeFile(dir, 'slow.html', heavyHtml()), { limits: { timeoutMs: 300 } }), 'too_large', /Reading slow\.html took longer than 300 ms, the limit for one document/);
  }, 60_000);

  it('a parse cancelled while it runs leaves nothing behind', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await expectRefused(importFile(db, writeFile(dir, 'cancel.html', heavyHtml()), { signal: controller.signal }), 'cancelled', /cancelled/, false);
  }, 60_000);

  it('after all that the importer works as before', async () => {
    const { document } = await importFile(db, writeFile(dir, 'after.html', '<html><body><h1>After</h1><p>Still working.</p></body></html>'));
    expect(fullText(document.id)).toBe('After\n\nStill working.');
    expectLibraryIntact();
  }, 30_000);
});
