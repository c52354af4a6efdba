// Imports a document into the library. Plain text and Markdown are streamed (constant memory for
// any size); PDF, EPUB, DOCX and HTML go through their parsers (core/ingest/formats), in a worker
// thread with a time and a heap limit and a cap on their text (core/ingest/limits.ts), so a
// hostile file fails alone with a message naming the limit. A file is taken for what its bytes say
// it is, its name second (core/ingest/detect.ts). The document row is written first with status
// 'importing' and flipped to 'ready' at the end, so a crash or a failure leaves nothing visible;
// leftovers are swept on the next open.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Chapter, DocumentFormat, DocumentSummary, ImportResult } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import { countNewlines, TextAssembler, type Block } from '../ingest/assembler.js';
import { createDecoder, NewlineNormalizer } from '../ingest/decode.js';
import { checkFile, formatByName, importKind, isParsedFormat, SUPPORTED_FORMATS } from '../ingest/detect.js';
import type { ParsedDocument } from '../ingest/formats/index.js';
import { MAX_FILE_BYTES, resolveLimits, textTooLong, type ParseLimits } from '../ingest/limits.js';
import { parseInWorker } from '../ingest/parse-in-worker.js';
import { detectLegacyEncodingAfterAscii, junkRatio, notText, sniffText } from '../ingest/sniff.js';
import type { Db } from './database.js';
import { DocumentWriter } from './document-writer.js';
import { getSummary } from './queries.js';
import { isAlive } from '../process.js';

const READ_CHUNK = 1024 * 1024;
const SAMPLE_BYTES = 64 * 1024;
const MAX_JUNK_RATIO = 0.01;

export interface ImportProgress {
  bytesDone: number;
  bytesTotal: number;
}

export interface ImportOptions {
  /** The name to show and to take the format from (an upload is stored under a temporary name). */
  displayName?: string;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** Bounds on parsing PDF, EPUB, DOCX and HTML (the defaults in core/ingest/limits.ts; tests use tiny ones). */
  limits?: Partial<ParseLimits>;
}

/** Import any supported document: by its bytes first (a PDF named .txt is a PDF), then by its name. */
export async function importFile(db: Db, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const name = opts.displayName ?? path.basename(file);
  const kind = await importKind(file, name);
  const { sha256, sample } = await hashAndSample(file, opts.signal);
  const existing = findDuplicate(db, sha256);
  if (existing) return existing;
  if (!kind.parsed) return importText(db, file, name, kind.format, kind.size, sha256, sample, opts);
  return importParsed(db, file, name, kind.size, sha256, opts);
}

/** Import a plain-text or Markdown file (streamed). */
export async function importTextFile(db: Db, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const name = opts.displayName ?? path.basename(file);
  const format = formatByName(name);
  if (isParsedFormat(format)) throw new ApiError('unsupported_format', `${name} is not a text or Markdown file.`, `Import it as a document; Titans Reader imports ${SUPPORTED_FORMATS}.`);
  const stat = await checkFile(file, name, MAX_FILE_BYTES);
  const { sha256, sample } = await hashAndSample(file, opts.signal);
  return findDuplicate(db, sha256) ?? importText(db, file, name, format, stat.size, sha256, sample, opts);
}

function findDuplicate(db: Db, sha256: string): ImportResult | null {
  const existing = db.prepare(`SELECT id FROM documents WHERE sha256 = ? AND status = 'ready'`).get(sha256) as { id: number } | undefined;
  return existing ? { document: getSummary(db, existing.id), duplicate: true } : null;
}

async function importText(db: Db, file: string, name: string, format: DocumentFormat, size: number, sha256: string, sample: Uint8Array, opts: ImportOptions): Promise<ImportResult> {
  const sniffed = sniffText(sample, name);
  const check = createDecoder(sniffed.encoding).write(sample.subarray(sniffed.bomLength));
  if (junkRatio(check) > MAX_JUNK_RATIO) throw notText(name);

  try {
    return { document: await writeDocument(db, file, name, format, size, sha256, sniffed, opts), duplicate: false };
  } catch (e) {
    // Valid UTF-8 at the start but not further on: a legacy code page after all. Start over once.
    if (!(e instanceof InvalidUtf8Error)) throw e;
    const encoding = detectLegacyEncodingAfterAscii(e.context);
    if (!encoding) throw notText(name);
    return { document: await writeDocument(db, file, name, format, size, sha256, { encoding, bomLength: 0 }, opts), duplicate: false };
  }
}

/** PDF, EPUB, DOCX, HTML: parsed whole (documents of this kind are far smaller than their limit in text). */
async function importParsed(db: Db, file: string, name: string, size: number, sha256: string, opts: ImportOptions): Promise<ImportResult> {
  const parsed = await parseInWorker(file, { displayName: name, limits: opts.limits, signal: opts.signal });
  throwIfCancelled(opts.signal);
  const { maxChars } = resolveLimits(opts.limits);
  if (parsed.text.length > maxChars) throw textTooLong(name, maxChars);
  if (!/\S/.test(parsed.text)) throw new ApiError('empty_file', `${name} holds no readable text.`, 'Check that you picked the right file.');
  const writer = new DocumentWriter(db, { title: name.replace(/\.[^.]+$/, ''), format: parsed.format, fileName: name, fileSize: size, sha256, encoding: 'utf-8' }, [...new Set([...parsed.pages.map((p) => p.start), ...parsed.chapters.map((c) => c.start)])].sort((x, y) => x - y));
  try {
    const blocks: Block[] = [];
    const assembler = new TextAssembler(parsed.format, (b) => blocks.push(b));
    const STEP = 1024 * 1024;
    for (let i = 0; i < parsed.text.length; i += STEP) {
      throwIfCancelled(opts.signal);
      assembler.push(parsed.text.slice(i, i + STEP));
      writer.addBlocks(blocks.splice(0));
      opts.onProgress?.({ bytesDone: Math.round((size * Math.min(parsed.text.length, i + STEP)) / parsed.text.length), bytesTotal: size });
    }
    assembler.end();
    writer.addBlocks(blocks.splice(0));
    writer.finish({
      title: parsed.title ?? name.replace(/\.[^.]+$/, ''),
      author: parsed.author,
      chars: parsed.text.length,
      lines: countNewlines(parsed.text) + (parsed.text.endsWith('\n') ? 0 : 1),
      chapters: withLines(parsed),
      pages: parsed.pages.map((p) => (p.label !== null && p.label.length > 100 ? { ...p, label: p.label.slice(0, 100) } : p)),
    });
    return { document: getSummary(db, writer.docId), duplicate: false };
  } catch (e) {
    writer.abort();
    throw e;
  }
}

/** The parser's chapters with the 1-based line each starts on. */
function withLines(parsed: ParsedDocument): Chapter[] {
  const order = parsed.chapters.map((c, i) => ({ c, i })).sort((a, b) => a.c.start - b.c.start);
  const out: Chapter[] = new Array(parsed.chapters.length);
  let line = 1;
  let at = 0;
  for (const { c, i } of order) {
    line += countNewlines(parsed.text.slice(at, c.start));
    at = c.start;
    out[i] = { title: c.title.slice(0, 300), level: c.level, start: c.start, line };
  }
  return out;
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
  const writer = new DocumentWriter(db, { title, format, fileName: name, fileSize: size, sha256, encoding: sniffed.encoding });
  const pendingBlocks: Block[] = [];
  try {
    const assembler = new TextAssembler(format, (b) => pendingBlocks.push(b));
    const decoder = createDecoder(sniffed.encoding);
    const newlines = new NewlineNormalizer();
    let bytesDone = 0;
    let skip = sniffed.bomLength;
    let lastBlock = '';
    let chaptersSeen = 0;
    const flush = () => {
      writer.addBreaks(assembler.chapters.slice(chaptersSeen).map((c) => c.start));
      chaptersSeen = assembler.chapters.length;
      if (pendingBlocks.length > 0) lastBlock = pendingBlocks[pendingBlocks.length - 1]!.text;
      writer.addBlocks(pendingBlocks.splice(0));
    };
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
      flush();
      opts.onProgress?.({ bytesDone, bytesTotal: size });
    }
    assembler.push(newlines.push(decodeEnd(decoder)) + newlines.end());
    assembler.end();
    flush();
    if (!assembler.hasText) {
      throw new ApiError('empty_file', `${name} holds no readable text (only blank space).`, 'Check that you picked the right file.');
    }
    writer.finish({
      title: assembler.title ?? title,
      author: assembler.author,
      chars: assembler.chars,
      lines: assembler.line - (assembler.chars > 0 && lastBlock.endsWith('\n') ? 1 : 0),
      chapters: assembler.chapters,
    });
    return getSummary(db, writer.docId);
  } catch (e) {
    writer.abort();
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

/** Remove documents whose import was interrupted by a crash (their importing process is gone). */
export function sweepInterruptedImports(db: Db): number {
  const rows = db.prepare(`SELECT id, import_pid AS pid, import_pid_start AS start FROM documents WHERE status = 'importing'`).all() as Array<{ id: number; pid: number | null; start: number | null }>;
  let removed = 0;
  for (const r of rows) {
    if (r.pid !== null && r.pid !== process.pid && isAlive(r.pid, r.start)) continue;
    db.prepare(`DELETE FROM documents WHERE id = ?`).run(r.id);
    removed++;
  }
  return removed;
}
