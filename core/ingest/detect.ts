// What a file is, decided in one place for the importer, the parsers and the fine-tune's dataset:
// by its bytes first (a PDF named .txt is a PDF, a DOCX named .html is a DOCX), by its name second,
// after checking that it is a readable, non-empty file under the size limit (core/ingest/limits.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { DocumentFormat } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { ParsedFormat } from './formats/types.js';
import { isZip, ZipArchive } from './formats/zip.js';
import { emptyFile, fileTooLarge, MAX_DOCUMENT_BYTES, MAX_FILE_BYTES } from './limits.js';

/** Every extension Titans Reader imports, and the format it names. */
const FORMAT_BY_EXTENSION: Readonly<Record<string, DocumentFormat>> = {
  '.txt': 'text', '.text': 'text', '.asc': 'text', '': 'text',
  '.md': 'markdown', '.markdown': 'markdown', '.mdown': 'markdown', '.mkd': 'markdown',
  '.pdf': 'pdf', '.epub': 'epub', '.docx': 'docx', '.html': 'html', '.htm': 'html', '.xhtml': 'html',
};

/** What Titans Reader imports, for messages. */
export const SUPPORTED_FORMATS = 'PDF, EPUB, Word (.docx), HTML, Markdown (.md) and plain text (.txt)';

/** PDF, EPUB, DOCX, HTML: read whole and parsed (in a worker), rather than streamed as text. */
export function isParsedFormat(format: DocumentFormat | undefined): format is ParsedFormat {
  return format !== undefined && format !== 'text' && format !== 'markdown';
}

/** The format a file name's extension names; throws 'unsupported_format' for one that is not imported. */
export function formatByName(fileName: string): DocumentFormat {
  const ext = path.extname(fileName).toLowerCase();
  const format = Object.hasOwn(FORMAT_BY_EXTENSION, ext) ? FORMAT_BY_EXTENSION[ext] : undefined;
  if (!format) {
    throw new ApiError('unsupported_format', `${fileName}: the ${ext} format is not supported.`, `Titans Reader imports ${SUPPORTED_FORMATS}.`);
  }
  return format;
}

/** The parsed format (PDF, EPUB, DOCX, HTML) a file name's extension names, if it names one. */
export function parsedFormatByName(fileName: string): ParsedFormat | undefined {
  const ext = path.extname(fileName).toLowerCase();
  const format = Object.hasOwn(FORMAT_BY_EXTENSION, ext) ? FORMAT_BY_EXTENSION[ext] : undefined;
  return isParsedFormat(format) ? format : undefined;
}

/** File signatures: what a file's first bytes say it is. `parsed`: one of the parsers' formats (ZIP: EPUB or DOCX). */
const SIGNATURES: Array<{ what: string; magic: number[]; parsed?: true }> = [
  { what: 'a PDF document', magic: [0x25, 0x50, 0x44, 0x46], parsed: true }, // %PDF
  { what: 'a ZIP archive (EPUB, DOCX and similar are ZIP files)', magic: [0x50, 0x4b, 0x03, 0x04], parsed: true },
  { what: 'a PNG image', magic: [0x89, 0x50, 0x4e, 0x47] },
  { what: 'a JPEG image', magic: [0xff, 0xd8, 0xff] },
  { what: 'a GIF image', magic: [0x47, 0x49, 0x46, 0x38] },
  { what: 'a gzip archive', magic: [0x1f, 0x8b] },
  { what: 'an ELF executable', magic: [0x7f, 0x45, 0x4c, 0x46] },
  { what: 'a SQLite database', magic: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66] },
  { what: 'a 7-Zip archive', magic: [0x37, 0x7a, 0xbc, 0xaf] },
  { what: 'a Word 97-2003 document', magic: [0xd0, 0xcf, 0x11, 0xe0] },
  { what: 'an RTF document', magic: [0x7b, 0x5c, 0x72, 0x74, 0x66] },
];
/** The most bytes a signature needs. */
const SIGNATURE_BYTES = 8;

/** The signature a file's first bytes carry, if any ("a PNG image"). */
export function signatureOf(head: Uint8Array): { what: string; parsed: boolean } | null {
  const sig = SIGNATURES.find((s) => s.magic.every((b, i) => head[i] === b));
  return sig ? { what: sig.what, parsed: sig.parsed === true } : null;
}

/** A file to import: readable, a regular file, not empty, at most maxBytes; throws the error that says which it is not. */
export async function checkFile(file: string, name: string, maxBytes: number): Promise<fs.Stats> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch (e) {
    throw cannotRead(name, e);
  }
  if (!stat.isFile()) throw new ApiError('unreadable', `${name} is not a regular file.`, 'Choose a file, not a folder or a device.');
  if (stat.size === 0) throw emptyFile(name);
  if (stat.size > maxBytes) throw fileTooLarge(name, stat.size, maxBytes);
  return stat;
}

/** A file that could not be opened or read: gone (not_found) or not ours to read (unreadable). */
export function cannotRead(name: string, e: unknown): ApiError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ApiError('not_found', `${name} does not exist.`, 'Check the path; the file may have been moved or deleted.');
  return new ApiError('unreadable', `${name} cannot be read (${code ?? (e instanceof Error ? e.message : 'unknown error')}).`, 'Check that you have permission to read it.');
}

export type ImportKind = { parsed: true; size: number } | { parsed: false; format: Exclude<DocumentFormat, ParsedFormat>; size: number };

/**
 * How the importer takes a file: parsed (PDF, EPUB, DOCX, HTML; which one, the parser's bytes
 * decide: detectFormat) or streamed as text or Markdown. A name that Titans Reader does not import
 * is refused first; then the file is checked (MAX_FILE_BYTES); a file named as text that starts like
 * a PDF or a ZIP is parsed all the same, and a parsed file must be within MAX_DOCUMENT_BYTES.
 */
export async function importKind(file: string, name: string): Promise<ImportKind> {
  const byName = formatByName(name);
  const { size } = await checkFile(file, name, MAX_FILE_BYTES);
  if (!isParsedFormat(byName) && signatureOf(await readHead(file, SIGNATURE_BYTES))?.parsed !== true) return { parsed: false, format: byName, size };
  if (size > MAX_DOCUMENT_BYTES) throw fileTooLarge(name, size, MAX_DOCUMENT_BYTES);
  return { parsed: true, size };
}

async function readHead(file: string, n: number): Promise<Uint8Array> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(new Uint8Array(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Which parser reads a whole file: what the bytes say first, the extension second; throws 'unsupported_format' when neither helps. */
export function detectFormat(bytes: Buffer, name: string): ParsedFormat {
  const head = bytes.subarray(0, 1024);
  if (head.toString('latin1').includes('%PDF-')) return 'pdf';
  if (isZip(bytes)) {
    // mimetype is stored uncompressed first in an EPUB; otherwise look at the directory.
    if (bytes.toString('latin1', 30, 30 + 8) === 'mimetype' && bytes.toString('latin1', 38, 38 + 20) === 'application/epub+zip') return 'epub';
    try {
      const zip = ZipArchive.open(bytes, name, 'document');
      if (zip.has('word/document.xml')) return 'docx';
      if (zip.has('META-INF/container.xml')) return 'epub';
    } catch {
      /* fall back to the extension; the parser gives the precise error */
    }
  }
  const text = bytes.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (startsAsHtml(text)) return 'html';
  const byExt = parsedFormatByName(name);
  if (byExt) return byExt;
  if (/<(head|body|p|div|h1)[\s>]/.test(text)) return 'html';
  throw new ApiError('unsupported_format', `${name} is not a PDF, EPUB, Word (.docx) or HTML document.`, 'Plain text and Markdown files are imported as text; other formats are not supported yet.');
}

/**
 * `<!doctype html` or `<html` first, after an optional XML declaration and any comments. Scanned
 * by hand: the regex this replaces, /^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<(!doctype html|html)/,
 * backtracks exponentially over a run of "<!---->".
 */
export function startsAsHtml(lowerText: string): boolean {
  let i = 0;
  const skipSpace = () => {
    while (i < lowerText.length && /\s/.test(lowerText[i]!)) i++;
  };
  if (lowerText.startsWith('<?xml', i)) {
    const gt = lowerText.indexOf('>', i);
    if (gt < 0) return false;
    i = gt + 1;
    skipSpace();
  }
  while (lowerText.startsWith('<!--', i)) {
    const end = lowerText.indexOf('-->', i + 4);
    if (end < 0) return false;
    i = end + 3;
    skipSpace();
  }
  return lowerText.startsWith('<!doctype html', i) || lowerText.startsWith('<html', i);
}
