// Imports a plain-text or Markdown file into the library, streamed: constant memory for any size.
// The document row is written first with status 'importing' and flipped to 'ready' at the end, so
// a crash or a failure leaves nothing visible; leftovers are swept on the next open.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DocumentFormat, DocumentSummary } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import { TextAssembler, type Block } from '../ingest/assembler.js';
import { createDecoder, NewlineNormalizer } from '../ingest/decode.js';
import { detectLegacyEncodingAfterAscii, junkRatio, notText, sniffText } from '../ingest/sniff.js';
import type { Db } from './database.js';
import { getSummary } from './queries.js';

export const MAX_FILE_BYTES = 4 * 1024 ** 3;
const READ_CHUNK = 1024 * 1024;
const SAMPLE_BYTES = 64 * 1024;
const MAX_JUNK_RATIO = 0.01;

const FORMATS: Record<string, DocumentFormat> = {
  '.txt': 'text', '.text': 'text', '.asc': 'text', '': 'text',
  '.md': 'markdown', '.markdown': 'markdown', '.mdown': 'markdown', '.mkd': 'markdown',
};

export interface ImportProgress {
  bytesDone: number;
  bytesTotal: number;
}

export interface ImportOptions {
  /** The name to show and to take the format from (an upload is stored under a temporary name). */
  displayName?: string;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
}

export function formatOf(fileName: string): DocumentFormat {
  const ext = path.extname(fileName).toLowerCase();
  const format = FORMATS[ext];
  if (!format) {
    throw new ApiError('unsupported_format', `${fileName}: the ${ext} format is not supported yet.`, 'This version imports plain text (.txt) and Markdown (.md).');
  }
  return format;
}

export async function importTextFile(db: Db, file: string, opts: ImportOptions = {}): Promise<{ document: DocumentSummary; duplicate: boolean }> {
  const name = opts.displayName ?? path.basename(file);
  const format = formatOf(name);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch (e) {
    throw new ApiError('not_found', `Cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`, 'Check that the file exists and that you may read it.');
  }
  if (!stat.isFile()) throw new ApiError('unreadable', `${name} is not a regular file.`);
  if (stat.size === 0) throw new ApiError('empty_file', `${name} is empty: there is nothing to read.`, 'Check that you picked the right file.');
  if (stat.size > MAX_FILE_BYTES) {
    throw new ApiError('too_large', `${name} is ${(stat.size / 1024 ** 3).toFixed(1)} GiB; the limit is ${MAX_FILE_BYTES / 1024 ** 3} GiB.`, 'Split it into smaller files.');
  }

  const { sha256, sample } = await hashAndSample(file, opts.signal);
  const existing = db.prepare(`SELECT id FROM documents WHERE sha256 = ? AND status = 'ready'`).get(sha256) as { id: number } | undefined;
  if (existing) return { document: getSummary(db, existing.id), duplicate: true };

  const sniffed = sniffText(sample, name);
  const check = createDecoder(sniffed.encoding).write(sample.subarray(sniffed.bomLength));
  if (junkRatio(check) > MAX_JUNK_RATIO) throw notText(name);

  try {
    return { document: await writeDocument(db, file, name, format, stat.size, sha256, sniffed, opts), duplicate: false };
  } catch (e) {
    // Valid UTF-8 at the start but not further on: a legacy code page after all. Start over once.
    if (!(e instanceof InvalidUtf8Error)) throw e;
    const encoding = detectLegacyEncodingAfterAscii(e.context);
    if (!encoding) throw notText(name);
    return { document: await writeDocument(db, file, name, format, stat.size, sha256, { encoding, bomLength: 0 }, opts), duplicate: false };
  }
}

class InvalidUtf8Error extends Error {
  constructor(readonly context: Uint8Array) {
    super('invalid UTF-8');
  }
}

async function hashAndSample(file: string, signal?: AbortSignal): Promise<{ sha256: string; sample: Uint8Array }> {
  const hash = createHash('sha256');
  let sample: Uint8Array | null = null;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) {
    throwIfCancelled(signal);
    const bytes = chunk as Buffer;
    if (!sample) sample = new Uint8Array(bytes.subarray(0, SAMPLE_BYTES));
    hash.update(bytes);
  }
  return { sha256: hash.digest('hex'), sample: sample ?? new Uint8Array() };
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new ApiError('cancelled', 'The import was cancelled; nothing was added.');
}

async function writeDocument(
  db: Db,
  file: string,
  name: string,
  format: DocumentFormat,
  size: number,
  sha256: string,
  sniffed: { encoding: string; bomLength: number },
  opts: ImportOptions,
): Promise<DocumentSummary> {
  const title = name.replace(/\.[^.]+$/, '');
  const docId = Number(
    db
      .prepare(`INSERT INTO documents (title, format, file_name, file_size, sha256, encoding, status, import_pid, imported_at) VALUES (?, ?, ?, ?, ?, ?, 'importing', ?, ?)`)
      .run(title, format, name, size, sha256, sniffed.encoding, process.pid, new Date().toISOString()).lastInsertRowid,
  );
  const insertBlock = db.prepare(`INSERT INTO doc_blocks (doc_id, idx, start_char, start_line, char_len, text) VALUES (?, ?, ?, ?, ?, ?)`);
  const pendingBlocks: Block[] = [];
  const writeBlocks = db.transaction((blocks: Block[]) => {
    for (const b of blocks) insertBlock.run(docId, b.index, b.start, b.line, b.text.length, b.text);
  });

  try {
    const assembler = new TextAssembler(format, (b) => pendingBlocks.push(b));
    const decoder = createDecoder(sniffed.encoding);
    const newlines = new NewlineNormalizer();
    let bytesDone = 0;
    let skip = sniffed.bomLength;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: READ_CHUNK })) {
      throwIfCancelled(opts.signal);
      let bytes = chunk as Buffer;
      bytesDone += bytes.length;
      if (skip > 0) {
        const n = Math.min(skip, bytes.length);
        bytes = bytes.subarray(n);
        skip -= n;
      }
      assembler.push(newlines.push(decodeChunk(decoder, bytes)));
      if (pendingBlocks.length > 0) writeBlocks(pendingBlocks.splice(0));
      opts.onProgress?.({ bytesDone, bytesTotal: size });
    }
    assembler.push(newlines.push(decodeEnd(decoder)) + newlines.end());
    assembler.end();
    writeBlocks(pendingBlocks.splice(0));
    if (!assembler.hasText) {
      throw new ApiError('empty_file', `${name} holds no readable text (only blank space).`, 'Check that you picked the right file.');
    }

    const insertChapter = db.prepare(`INSERT INTO chapters (doc_id, idx, title, level, start_char, line) VALUES (?, ?, ?, ?, ?, ?)`);
    db.transaction(() => {
      assembler.chapters.forEach((c, i) => insertChapter.run(docId, i, c.title, c.level, c.start, c.line));
      db.prepare(`UPDATE documents SET title = ?, author = ?, char_count = ?, line_count = ?, status = 'ready', import_pid = NULL WHERE id = ?`).run(
        assembler.title ?? title,
        assembler.author,
        assembler.chars,
        assembler.line - (assembler.chars > 0 && endsWithNewline(db, docId) ? 1 : 0),
        docId,
      );
    })();
    return getSummary(db, docId);
  } catch (e) {
    db.prepare(`DELETE FROM documents WHERE id = ?`).run(docId);
    throw e;
  }
}

function decodeChunk(decoder: ReturnType<typeof createDecoder>, bytes: Uint8Array): string {
  try {
    return decoder.write(bytes);
  } catch (e) {
    if (e instanceof TypeError) throw new InvalidUtf8Error(bytes);
    throw e;
  }
}

function decodeEnd(decoder: ReturnType<typeof createDecoder>): string {
  try {
    return decoder.end();
  } catch (e) {
    if (e instanceof TypeError) throw new InvalidUtf8Error(new Uint8Array());
    throw e;
  }
}

function endsWithNewline(db: Db, docId: number): boolean {
  const last = db.prepare(`SELECT text FROM doc_blocks WHERE doc_id = ? ORDER BY idx DESC LIMIT 1`).pluck().get(docId) as string | undefined;
  return last?.endsWith('\n') ?? false;
}

/** Remove documents whose import was interrupted by a crash (their importing process is gone). */
export function sweepInterruptedImports(db: Db): number {
  const rows = db.prepare(`SELECT id, import_pid AS pid FROM documents WHERE status = 'importing'`).all() as Array<{ id: number; pid: number | null }>;
  let removed = 0;
  for (const r of rows) {
    if (r.pid !== null && r.pid !== process.pid && isAlive(r.pid)) continue;
    db.prepare(`DELETE FROM documents WHERE id = ?`).run(r.id);
    removed++;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
