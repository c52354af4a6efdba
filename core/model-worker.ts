// The model worker: owns TensorFlow.js, the reading model and its own connection to the library,
// and reads one document at a time into memory when the core asks (core/reading/queue.ts); between
// reading steps it answers recall probes, scores passages (core/reading/) and answers questions from
// a book's memory (core/ask/answer-from-book.ts). It sits above both folders, as core/app.ts does.
import { parentPort, workerData } from 'node:worker_threads';
import { backendLabel, selectBackend } from '../models/backend.js';
import { ApiError } from './api/errors.js';
import { openDatabase } from './library/database.js';
import { FromWorker, ToWorker, WorkerSettings } from './reading/protocol.js';
import { readDocument } from './reading/read-document.js';
import { recall } from './reading/recall.js';
import { answerFromBook } from './ask/answer-from-book.js';
import { scorePassages } from './reading/score-passages.js';
import { loadReaderModel } from './reading/reader-model.js';

const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(FromWorker.parse(m));
const settings = WorkerSettings.parse(workerData);
let pauseRequested = false;
const queue: number[] = [];
let busy = false;

async function main(): Promise<void> {
  const warn = console.warn;
  console.warn = () => {}; // tfjs' "install the node backend" banner
  const backend = await selectBackend({ force: settings.backend }).finally(() => (console.warn = warn));
  const backendName = backendLabel(backend); // "webgpu (its adapter)", "wasm", ...: shown, and stored with each memory
  const db = openDatabase(settings.databasePath);
  const reader = loadReaderModel(db, settings.dataDir, settings.modelFile);
  send({ type: 'ready', model: reader.info, backend: backendName });

  const next = async (): Promise<void> => {
    if (busy) return;
    const docId = queue.shift();
    if (docId === undefined) return;
    busy = true;
    pauseRequested = false;
    try {
      const r = await readDocument({
        db,
        docId,
        modelId: reader.info.id,
        model: reader.model,
        tokenizer: reader.tokenizer,
        backend: backendName,
        stepTokens: settings.stepTokens,
        checkpointTokens: settings.checkpointTokens,
        shouldStop: () => pauseRequested,
        onProgress: (done, total) => send({ type: 'progress', docId, done, total }),
      });
      send({ type: 'finished', docId, ...r });
    } catch (e) {
      send({ type: 'failed', docId, error: ApiError.from(e).toJSON() });
    } finally {
      busy = false;
      void next();
    }
  };

  port.on('message', (raw: unknown) => {
    const m = ToWorker.safeParse(raw);
    if (!m.success) return; // only the core talks to this worker; ignore anything malformed
    if (m.data.type === 'pause') pauseRequested = true;
    else if (m.data.type === 'recall') {
      const { requestId, cue, docIds, next: tokens } = m.data;
      recall(db, reader.model, reader.tokenizer, reader.info, cue, docIds, tokens)
        .then((result) => send({ type: 'recalled', requestId, result }))
        .catch((e: unknown) => send({ type: 'requestFailed', requestId, error: ApiError.from(e).toJSON() })); // also a result that fails validation
    } else if (m.data.type === 'answer') {
      const { requestId, ...req } = m.data;
      answerFromBook(db, reader.model, reader.tokenizer, reader.info.id, req, (text) => send({ type: 'answerText', requestId, text }))
        .then((r) => send({ type: 'answered', requestId, ...r }))
        .catch((e: unknown) => send({ type: 'requestFailed', requestId, error: ApiError.from(e).toJSON() }));
    } else if (m.data.type === 'scorePassages') {
      const { requestId, ...req } = m.data;
      scorePassages(db, reader.model, reader.tokenizer, reader.info.id, req)
        .then((scores) => send({ type: 'passagesScored', requestId, scores }))
        .catch((e: unknown) => send({ type: 'requestFailed', requestId, error: ApiError.from(e).toJSON() }));
    } else {
      queue.push(m.data.docId);
      void next();
    }
  });
}

main().catch((e: unknown) => {
  const err = e instanceof ApiError ? e : new ApiError('unavailable', `The model could not be started: ${e instanceof Error ? e.message : String(e)}`, 'Reading into memory is unavailable; the library itself works.');
  send({ type: 'fatal', error: err.toJSON() });
  process.exitCode = 1;
  port.close();
});
