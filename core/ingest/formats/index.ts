// parseDocument: pick the parser by what the file really is (core/ingest/detect.ts: its first
// bytes, then its extension), and refuse oversized or empty files before reading them whole.
import fs from 'node:fs/promises';
import path from 'node:path';
import { cannotRead, checkFile, detectFormat } from '../detect.js';
import { MAX_DOCUMENT_BYTES } from '../limits.js';
import { parseDocx } from './docx.js';
import { parseEpub } from './epub.js';
import { parseHtml } from './html.js';
import type { ParsedDocument, ParseOptions } from './types.js';

export type { PageMark, ParsedChapter, ParsedDocument, ParsedFormat, ParseOptions } from './types.js';

export async function parseDocument(file: string, opts: ParseOptions = {}): Promise<ParsedDocument> {
  const name = opts.displayName ?? path.basename(file);
  await checkFile(file, name, opts.maxBytes ?? MAX_DOCUMENT_BYTES);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw cannotRead(name, e);
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
