// Decide how a text file is encoded from its first bytes, before trusting its name: binary formats
// named .txt are refused (their signatures: core/ingest/detect.ts), then the text encoding (BOM,
// UTF-8, UTF-16 without BOM, legacy code pages).
import chardet from 'chardet';
import iconv from 'iconv-lite';
import { ApiError } from '../api/errors.js';
import { signatureOf, SUPPORTED_FORMATS } from './detect.js';

export interface Sniffed {
  /** An encoding name iconv-lite accepts, or 'utf-8'. */
  encoding: string;
  /** Bytes to skip at the start (a byte order mark). */
  bomLength: number;
}

export function sniffText(sample: Uint8Array, fileName: string): Sniffed {
  if (sample.length >= 4 && ((sample[0] === 0xff && sample[1] === 0xfe && sample[2] === 0 && sample[3] === 0) || (sample[0] === 0 && sample[1] === 0 && sample[2] === 0xfe && sample[3] === 0xff))) {
    throw new ApiError('bad_encoding', `${fileName} is encoded as UTF-32, which is not supported.`, 'Save it as UTF-8 and import it again.');
  }
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return { encoding: 'utf-8', bomLength: 3 };
  if (sample[0] === 0xff && sample[1] === 0xfe) return { encoding: 'utf-16le', bomLength: 2 };
  if (sample[0] === 0xfe && sample[1] === 0xff) return { encoding: 'utf-16be', bomLength: 2 };

  const signature = signatureOf(sample);
  if (signature) throw new ApiError('binary_file', `${fileName} is not a text file: it looks like ${signature.what}.`, `Titans Reader imports ${SUPPORTED_FORMATS}.`);

  const utf16 = guessUtf16WithoutBom(sample);
  if (utf16) return { encoding: utf16, bomLength: 0 };
  if (sample.includes(0)) {
    throw new ApiError('binary_file', `${fileName} is not a text file: it contains binary data (NUL bytes).`, 'Check that you picked the right file.');
  }
  if (isValidUtf8Prefix(sample)) return { encoding: 'utf-8', bomLength: 0 };

  const encoding = detectLegacyEncoding(sample);
  if (!encoding) throw notText(fileName);
  return { encoding, bomLength: 0 };
}

export function notText(fileName: string): ApiError {
  return new ApiError('bad_encoding', `${fileName} is not text in any supported encoding (UTF-8, UTF-16, or a legacy code page such as Windows-1251).`, 'Open it in a text editor and save it as UTF-8, or check that it is a text file at all.');
}

/** UTF-16 without a BOM shows as zero bytes at every other position in mostly-Latin text. */
function guessUtf16WithoutBom(sample: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  const n = sample.length - (sample.length % 2);
  if (n < 16) return null;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < n; i += 2) {
    if (sample[i] === 0) evenZeros++;
    if (sample[i + 1] === 0) oddZeros++;
  }
  const pairs = n / 2;
  if (oddZeros > 0.4 * pairs && evenZeros < 0.02 * pairs) return 'utf-16le';
  if (evenZeros > 0.4 * pairs && oddZeros < 0.02 * pairs) return 'utf-16be';
  return null;
}

/** Valid UTF-8, allowing a multi-byte character cut off at the end of the sample. */
export function isValidUtf8Prefix(sample: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** Legacy code pages: chardet's statistics, restricted to what iconv-lite can decode. */
export function detectLegacyEncoding(sample: Uint8Array): string | null {
  const candidates = chardet.analyse(sample);
  for (const c of candidates) {
    const name = c.name.toLowerCase();
    if (name.startsWith('utf') || name.startsWith('iso-2022')) continue;
    if (c.confidence < 10) continue;
    if (iconv.encodingExists(name)) return name;
  }
  return null;
}

/** The code page of bytes that failed as UTF-8, judged on the part after the leading ASCII (where code pages differ). */
export function detectLegacyEncodingAfterAscii(bytes: Uint8Array, sampleBytes = SAMPLE_AFTER_ASCII): string | null {
  const from = Math.max(0, bytes.findIndex((b) => b >= 0x80));
  return detectLegacyEncoding(bytes.subarray(from, from + sampleBytes));
}

const SAMPLE_AFTER_ASCII = 64 * 1024;

/** Share of characters that text never contains: control codes and replacement characters. */
export function junkRatio(text: string): number {
  if (text.length === 0) return 0;
  let junk = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) || (c >= 0x80 && c < 0xa0) || c === 0xfffd) junk++;
  }
  return junk / text.length;
}
