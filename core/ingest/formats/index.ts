// parseDocument: pick the parser by what the file really is (its first bytes), falling back to
// its extension, and refuse oversized or empty files before reading them whole.
import fs from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../api/errors.js';
import { parseDocx } from './docx.js';
import { parseEpub } from './epub.js';
import { parseHtml } from './html.js';
import type { DocumentFormat, ParsedDocument, ParseOptions } from './types.js';
import { isZip, ZipArchive } from './zip.js';

export type { Chapter, DocumentFormat, PageMark, ParsedDocument, ParseOptions } from './types.js';

export const DEFAULT_MAX_DOCUMENT_BYTES = 1024 ** 3;

/** The document formats a file name's extension names (the bytes decide first when importing). */
export const BY_EXTENSION: Record<string, DocumentFormat> = {
  '.pdf': 'pdf',
  '.epub': 'epub',
  '.docx': 'docx',
  '.html': 'html',
  '.htm': 'html',
  '.xhtml': 'html',
};

export async function parseDocument(file: string, opts: ParseOptions = {}): Promise<ParsedDocument> {
  const name = opts.displayName ?? path.basename(file);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  let size: number;
  try {
    size = (await fs.stat(file)).size;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new ApiError('not_found', `${name} does not exist.`, 'Check the path; the file may have been moved or deleted.');
    throw new ApiError('unreadable', `${name} cannot be read (${code ?? 'unknown error'}).`, 'Check that you have permission to read it.');
  }
  if (size === 0) throw new ApiError('empty_file', `${name} is empty.`, 'Check that you picked the right file; there is nothing to import.');
  if (size > maxBytes) {
    throw new ApiError('too_large', `${name} is ${formatMb(size)}, larger than the ${formatMb(maxBytes)} limit for one document.`, 'Split it into smaller files.');
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new ApiError('unreadable', `${name} cannot be read (${(e as { code?: string }).code ?? 'unknown error'}).`, 'Check that you have permission to read it.');
  }
  const format = detectFormat(bytes, name);
  switch (format) {
    case 'pdf': {
      const { parsePdf } = await import('./pdf.js');
      return parsePdf(bytes, name, { maxChars: opts.maxChars });
    }
    case 'epub':
      return parseEpub(bytes, name, { maxChars: opts.maxChars });
    case 'docx':
      return parseDocx(bytes, name, { maxChars: opts.maxChars });
    case 'html':
      return parseHtml(decodeHtml(bytes), name, opts.maxChars);
  }
}

/** What the bytes say first, the extension second; throws 'unsupported_format' when neither helps. */
export function detectFormat(bytes: Buffer, name: string): DocumentFormat {
  const head = bytes.subarray(0, 1024);
  if (head.subarray(0, 1024).toString('latin1').includes('%PDF-')) return 'pdf';
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
  const byExt = BY_EXTENSION[path.extname(name).toLowerCase()];
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

function decodeHtml(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  const head = bytes.subarray(0, 2048).toString('latin1');
  const charset = /<meta[^>]+charset=["']?([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      /* unknown label: fall through to UTF-8 */
    }
  }
  return new TextDecoder('utf-8').decode(bytes);
}

function formatMb(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 1024 ** 2))} MB`;
}
