// The parse worker: parses one document per call (PDF, EPUB, DOCX, HTML) and answers with the
// parsed document or a typed error, over the RPC (core/ingest/parse-protocol.ts). It runs with a
// heap limit (resourceLimits) and is stopped from outside when it takes too long (see
// parse-in-worker.ts), so whatever a file does to the parsers, only this thread goes down.
import { parentPort } from 'node:worker_threads';
import { messagePort } from '../rpc/node-ports.js';
import { serveRpc } from '../rpc/rpc.js';
import { parseDocument } from './formats/index.js';
import { asParseError } from './limits.js';
import { ParseContract } from './parse-protocol.js';

if (parentPort) {
  serveRpc(
    messagePort(parentPort),
    ParseContract,
    {
      ready: () => ({}),
      parse: async (req) => {
        try {
          return await parseDocument(req.file, { displayName: req.displayName, ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}), maxChars: req.maxChars });
        } catch (e) {
          throw asParseError(e, req.displayName, req.maxChars);
        }
      },
    },
    { peer: 'the core' },
  );
}
