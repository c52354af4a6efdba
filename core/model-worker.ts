// The model worker: owns TensorFlow.js, the reading model and its own connection to the library,
// and serves the core's calls over the RPC (core/rpc/rpc.ts, contract in core/reading/protocol.ts):
// it reads the document the core asks for (core/reading/queue.ts holds the queue; one read at a
// time), and between reading steps it answers recall probes, scores passages (core/reading/) and
// answers questions from a book's memory (core/ask/answer-from-book.ts). It sits above both
// folders, as core/app.ts does.
import { parentPort, workerData } from 'node:worker_threads';
import { backendLabel, selectBackend } from '../models/backend.js';
import { ApiError } from './api/errors.js';
import { openReadonlyDatabase } from './library/database.js';
import { ModelWorkerContract, WorkerSettings } from './reading/protocol.js';
import { readDocument } from './reading/read-document.js';
import { openReadingEngine } from './reading/reading-engine.js';
import { recall } from './reading/recall.js';
import { answerFromBook } from './ask/answer-from-book.js';
import { BookMemories } from './reading/book-memory.js';
import { scorePassages } from './ask/score-passages.js';
import { loadReaderModel } from './reading/reader-model.js';
import { messagePort } from './rpc/node-ports.js';
import { serveRpc } from './rpc/rpc.js';

const port = parentPort!;
const settings = WorkerSettings.parse(workerData);

async function load() {
  const warn = console.warn;
  console.warn = () => {}; // tfjs' "install the node backend" banner
  const backend = await selectBackend({ force: settings.backend }).finally(() => (console.warn = warn));
  const db = openReadonlyDatabase(settings.databasePath); // the core writes: readings come back as writes (core/library/readings.ts)
  const reader = loadReaderModel(null, settings.dataDir, settings.modelFile); // registered by the core on 'ready'
  const memories = new BookMemories(db, reader.info.id); // decoded once, shared by recall, rerank and answers
  const engine = await openReadingEngine(reader.model, backend, settings.readEngine);
  // "webgpu (its adapter)", "wasm; reading: onnxruntime, 2 threads", ...: shown, and stored with each memory
  const backendName = backendLabel(backend) + (engine.onnx ? `; ${engine.label}` : '');
  return { backendName, db, reader, memories, onnx: engine.onnx };
}

const loaded = load().catch((e: unknown) => {
  throw e instanceof ApiError ? e : new ApiError('unavailable', `The model could not be started: ${e instanceof Error ? e.message : String(e)}`, 'Reading into memory is unavailable; the library itself works.');
});
/** A model that cannot load: the worker answers 'ready' with why, then exits. */
const exitSoon = () => {
  process.exitCode = 1;
  setTimeout(() => port.close(), 0); // after the reply that is on its way
};
loaded.catch(() => setTimeout(exitSoon, 2000)); // in case 'ready' is never asked
let reading = false;

serveRpc(
  messagePort(port),
  ModelWorkerContract,
  {
    ready: async () => {
      try {
        const { reader, backendName } = await loaded;
        return { model: reader.info, backend: backendName, registration: reader.registration };
      } catch (e) {
        exitSoon();
        throw e;
      }
    },
    read: async ({ docId }, { signal, emit }) => {
      const { db, reader, backendName, onnx } = await loaded;
      if (reading) throw new ApiError('conflict', 'The model worker is reading another document.', 'This is a bug in Titans Reader: the core reads one at a time.');
      reading = true;
      try {
        return await readDocument({
          db,
          docId,
          modelId: reader.info.id,
          model: reader.model,
          tokenizer: reader.tokenizer,
          backend: backendName,
          onnx,
          stepTokens: settings.stepTokens,
          checkpointTokens: settings.checkpointTokens,
          shouldStop: () => signal.aborted,
          onProgress: (done, total) => emit({ kind: 'progress', done, total }),
          write: (w) => emit({ kind: 'write', write: w }), // applied by the core (core/reading/queue.ts), the library's one writer
        });
      } finally {
        reading = false;
      }
    },
    recall: async ({ cue, docIds, next }) => {
      const { db, reader, memories } = await loaded;
      return recall(db, reader.model, reader.tokenizer, reader.info, memories, cue, docIds, next);
    },
    answer: async (req, { emit }) => {
      const { reader, memories } = await loaded;
      return answerFromBook(reader.model, reader.tokenizer, memories, req, (text) => emit({ text }));
    },
    scorePassages: async (req) => {
      const { reader, memories } = await loaded;
      return scorePassages(reader.model, reader.tokenizer, memories, req);
    },
  },
  { peer: 'the core' },
);
