// The bounds on parsing one document (PDF, EPUB, DOCX, HTML), and the messages that name them.
// A parse runs in a worker thread (see parse-in-worker.ts) with a wall-clock limit and a heap
// limit, and its text may not grow past MAX_DOCUMENT_CHARS, so a hostile or pathological file
// fails alone with one of these errors while the app and the library stay up.
import { ApiError } from '../api/errors.js';

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

export function describeMs(ms: number): string {
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000} minutes`;
  if (ms >= 1000) return `${+(ms / 1000).toFixed(1)} s`;
  return `${ms} ms`;
}
