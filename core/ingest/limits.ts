// The bounds on importing one document, and the messages that name them: the size of a file
// (any format; PDF, EPUB, DOCX and HTML, which are read whole, have a lower bound than streamed
// text), and the bounds on parsing one (PDF, EPUB, DOCX, HTML). A parse runs in a worker thread (see parse-in-worker.ts) with a wall-clock limit and a heap
// limit, and its text may not grow past MAX_DOCUMENT_CHARS, so a hostile or pathological file
// fails alone with one of these errors while the app and the library stay up.
import { ApiError } from '../api/errors.js';

/** The largest file imported at all (plain text and Markdown are streamed, so only the disk bounds them). */
export const MAX_FILE_BYTES = 4 * 1024 ** 3;
/** The largest PDF, EPUB, DOCX or HTML file: these are read whole into memory and parsed. */
export const MAX_DOCUMENT_BYTES = 1024 ** 3;
/** The largest text file a fine-tune reads (whole, not streamed). */
export const MAX_TRAINING_FILE_BYTES = 512 * 1024 * 1024;

/** The most text one parsed document may have: 128 Mi UTF-16 code units, i.e. 256 MB of text in memory. */
export const MAX_DOCUMENT_CHARS = 128 * 1024 * 1024;

export interface ParseLimits {
  /** Wall-clock time one parse may take, in milliseconds. */
  timeoutMs: number;
  /** The parse worker's V8 heap (old generation), in MB. */
  maxHeapMb: number;
  /** The most text (UTF-16 code units) a parsed document may have. */
  maxChars: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = {
  timeoutMs: 300_000,
  maxHeapMb: 2048,
  maxChars: MAX_DOCUMENT_CHARS,
};

export function resolveLimits(limits: Partial<ParseLimits> = {}): ParseLimits {
  return {
    timeoutMs: limits.timeoutMs ?? DEFAULT_PARSE_LIMITS.timeoutMs,
    maxHeapMb: limits.maxHeapMb ?? DEFAULT_PARSE_LIMITS.maxHeapMb,
    maxChars: limits.maxChars ?? DEFAULT_PARSE_LIMITS.maxChars,
  };
}

/** A file over a byte limit (`what` it is the limit for: "one document", "one training file"). */
export function fileTooLarge(name: string, size: number, maxBytes: number, what = 'one document'): ApiError {
  return new ApiError('too_large', `${name} is ${describeFileSize(size)}, larger than the ${describeFileLimit(maxBytes)} limit for ${what}.`, 'Split it into smaller files.');
}

export function emptyFile(name: string): ApiError {
  return new ApiError('empty_file', `${name} is empty: there is nothing to read.`, 'Check that you picked the right file.');
}

const SPLIT_HINT = 'If it is a genuine document, split it into smaller files (for example one per part or volume) and import those.';

/** The text-size limit (`maxChars` code units, two bytes each in memory). */
export function textTooLong(name: string, maxChars: number): ApiError {
  return new ApiError(
    'too_large',
    `${name} has more than ${describeChars(maxChars)} of text (${describeBytes(maxChars * 2)} in memory), the limit for one document.`,
    `${SPLIT_HINT} Plain text (.txt) is read streamed and has no such limit.`,
  );
}

export function parseTimedOut(name: string, timeoutMs: number): ApiError {
  return new ApiError(
    'too_large',
    `Reading ${name} took longer than ${describeMs(timeoutMs)}, the limit for one document, so it was stopped; nothing was added.`,
    `The file may be damaged or made to stall readers. ${SPLIT_HINT}`,
  );
}

export function parseOutOfMemory(name: string, maxHeapMb: number): ApiError {
  return new ApiError(
    'too_large',
    `Reading ${name} needed more than ${describeBytes(maxHeapMb * 1024 * 1024)} of memory, the limit for one document, so it was stopped; nothing was added.`,
    `The file may be damaged or made to exhaust memory. ${SPLIT_HINT}`,
  );
}

export function describeChars(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)} million characters`;
  return `${n.toLocaleString('en-US')} characters`;
}

export function describeBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${+(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${+(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** A file's size, to a tenth of its unit: "1.0 GiB", "3.2 MiB", "12.0 KiB". */
export function describeFileSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A byte limit as it was set: "4 GiB", "512 MiB", "0.1 KiB". */
function describeFileLimit(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${+(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return `${+(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${+(bytes / 1024).toFixed(1)} KiB`;
}

export function describeMs(ms: number): string {
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000} minutes`;
  if (ms >= 1000) return `${+(ms / 1000).toFixed(1)} s`;
  return `${ms} ms`;
}

/** Any error from a parser as a typed one: a parser that trips over a hostile file has read a damaged file. */
export function asParseError(e: unknown, name: string, maxChars: number): ApiError {
  if (e instanceof ApiError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && /call stack/i.test(message)) {
    return new ApiError('unreadable', `${name} is nested too deeply to be read.`, 'The file may be damaged or made to attack readers; export or download it again.');
  }
  if (e instanceof RangeError && /string length|string longer|array length|allocation failed/i.test(message)) return textTooLong(name, maxChars);
  return new ApiError('unreadable', `${name} could not be read (${message.slice(0, 300)}).`, 'The file may be damaged or incomplete; export or download it again.');
}
