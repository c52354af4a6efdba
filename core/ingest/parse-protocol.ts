// The parse worker's contract on the one RPC (core/rpc/rpc.ts): core/ingest/parse-in-worker.ts
// calls, core/ingest/parse-worker.ts serves. `ready` answers once the parsers are loaded (so a
// parse's time limit does not count the module load); `parse` answers with the parsed document,
// validated on receipt like every RPC result, or the parser's error in the API's shape.
import { z } from 'zod';
import { Chapter, DocumentFormat, PageMark } from '../api/contract.js';

export const ParsedDocumentSchema = z.object({
  format: DocumentFormat.exclude(['text', 'markdown']),
  title: z.string().nullable(),
  author: z.string().nullable(),
  text: z.string(),
  chapters: z.array(Chapter.omit({ line: true })),
  pages: z.array(PageMark),
});

export const ParseContract = {
  ready: { params: z.object({}), result: z.object({}) },
  parse: {
    params: z.object({ file: z.string().min(1), displayName: z.string(), maxBytes: z.number().int().positive().optional(), maxChars: z.number().int().positive() }),
    result: ParsedDocumentSchema,
  },
};
