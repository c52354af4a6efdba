// Bad input fails alone, with a clear message, and the library keeps everything else.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile, importTextFile } from '../../../core/library/importer.js';
import { getDetail, listDocuments, readBlocks } from '../../../core/library/queries.js';
import { makeBook, rng, tempDir, writeFile, writeLargeText } from '../../fixtures/texts.js';

let dir: string;
let db: Db;
let keeperId: number;
const keeperText = makeBook({ chapters: 3, paragraphsPerChapter: 5, seed: 11, title: 'Keeper' });

beforeAll(async () => {
  dir = tempDir();
  db = openDatabase(path.join(dir, 'library.sqlite'));
  keeperId = (await importTextFile(db, writeFile(dir, 'keeper.txt', keeperText))).document.id;
});
afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function expectRejected(file: string, code: string, messagePart: RegExp): Promise<void> {
  const before = listDocuments(db);
  const error = await importFile(db, file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).code).toBe(code);
  expect((error as ApiError).message).toMatch(messagePart);
  expect((error as ApiError).hint ?? '').not.toBe('');
  // nothing was added, nothing was lost, and no half-imported rows remain
  expect(listDocuments(db)).toEqual(before);
  expect(db.prepare(`SELECT count(*) FROM documents WHERE status != 'ready'`).pluck().get()).toBe(0);
  expect(readBlocks(db, keeperId, 0, 64).map((b) => b.text).join('')).toBe(keeperText);
}

describe('bad input', () => {
  it('refuses an empty file', async () => {
    await expectRejected(writeFile(dir, 'empty.txt', ''), 'empty_file', /empty\.txt is empty/);
  });

  it('refuses a file of only blank space', async () => {
    await expectRejected(writeFile(dir, 'blank.txt', ' \n\n\t \n'), 'empty_file', /no readable text/);
  });

  it('takes a file named .txt that starts like a PDF for a PDF, and says it is damaged', async () => {
    await expectRejected(writeFile(dir, 'paper.txt', '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n'), 'unreadable', /paper\.txt .*PDF/);
  });

  it('refuses a ZIP named .md that is neither EPUB nor DOCX', async () => {
    await expectRejected(writeFile(dir, 'book.md', Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4])), 'unsupported_format', /not a PDF, EPUB, Word/);
  });

  it('refuses an image named .txt, naming what it is', async () => {
    await expectRejected(writeFile(dir, 'photo.txt', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])), 'binary_file', /looks like a PNG image/);
  });

  it('refuses binary data with NUL bytes', async () => {
    const next = rng(5);
    const bytes = new Uint8Array(4096).map(() => Math.floor(next() * 256));
    bytes[100] = 0;
    await expectRejected(writeFile(dir, 'noise.txt', bytes), 'binary_file', /binary data/);
  });

  it('refuses bytes that are text in no supported encoding', async () => {
    const next = rng(9);
    const bytes = new Uint8Array(8192).map(() => 1 + Math.floor(next() * 255)); // no NULs, mostly junk
    await expectRejected(writeFile(dir, 'junk.txt', bytes), 'bad_encoding', /not text in any supported encoding/);
  });

  it('refuses a format it cannot read yet', async () => {
    await expectRejected(writeFile(dir, 'slides.pptx', 'x'), 'unsupported_format', /\.pptx format is not supported/);
  });

  it('refuses a missing file', async () => {
    await expectRejected(path.join(dir, 'nope.txt'), 'not_found', /nope\.txt does not exist/);
  });

  it('leaves nothing behind when an import is cancelled', async () => {
    const file = path.join(dir, 'cancel.txt');
    await writeLargeText(file, 8);
    const controller = new AbortController();
    const error = await importTextFile(db, file, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytesDone > 2 * 1024 * 1024) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect((error as ApiError).code).toBe('cancelled');
    expect(listDocuments(db).map((d) => d.id)).toEqual([keeperId]);
    expect(db.prepare(`SELECT count(*) FROM doc_blocks WHERE doc_id != ?`).pluck().get(keeperId)).toBe(0);
  });
});

describe('a very large file', () => {
  it('imports 300 MB streamed, without holding it in memory', async () => {
    const file = path.join(dir, 'huge.txt');
    const bytes = await writeLargeText(file, 300);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const { document } = await importTextFile(db, file, {
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage().rss);
      },
    });
    fs.rmSync(file);
    expect(document.chars).toBe(bytes); // ASCII: one character per byte
    const detail = getDetail(db, document.id);
    expect(detail.blocks.at(-1)!.start + detail.blocks.at(-1)!.length).toBe(bytes);
    // A 300 MB file held in memory would cost >= 300 MB (600 MB as a JS string); streaming stays far below.
    expect(peak - rssBefore).toBeLessThan(200 * 1024 * 1024);
    console.log(`300 MB import: peak RSS +${((peak - rssBefore) / 1024 / 1024).toFixed(0)} MB, ${detail.blocks.length} blocks`);
  }, 300_000);
});
