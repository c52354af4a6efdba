// The parse worker: parses one document per request (PDF, EPUB, DOCX, HTML) and answers with the
// parsed document or a typed error. It runs with a heap limit (resourceLimits) and is stopped
// from outside when it takes too long (see parse-in-worker.ts), so whatever a file does to the
// parsers, only this thread goes down.
import { parentPort } from 'node:worker_threads';
import { ApiError, type ApiErrorShape } from '../api/errors.js';
import { parseDocument } from './formats/index.js';
import { textTooLong } from './limits.js';

export interface ParseRequest {
  id: number;
  file: string;
  displayName: string;
  maxBytes?: number;
  maxChars: number;
}

export type ParseReply =
  | { id: number; ok: true; document: Awaited<ReturnType<typeof parseDocument>> }
  | { id: number; ok: false; error: ApiErrorShape };

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

const port = parentPort;
if (port) {
  port.on('message', (req: ParseRequest) => {
    void (async () => {
      let reply: ParseReply;
      try {
        const document = await parseDocument(req.file, { displayName: req.displayName, maxBytes: req.maxBytes, maxChars: req.maxChars });
        reply = { id: req.id, ok: true, document };
      } catch (e) {
        reply = { id: req.id, ok: false, error: asParseError(e, req.displayName, req.maxChars).toJSON() };
      }
      port.postMessage(reply);
    })();
  });
  port.postMessage({ ready: true });
}
