// Builds the core: opens the library in the data folder and wires every API request to its handler.
// The Electron shell, the browser host, the CLI and tests all start here.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AnswerSentence, AppInfo, BookAnswer } from './api/contract.js';
import { ApiError } from './api/errors.js';
import { EventHub } from './api/events.js';
import { ApiServer, type Handlers } from './api/server.js';
import { JobRegistry } from './jobs/jobs.js';
import { openDatabase, type Db } from './library/database.js';
import { importFile as importDocument, sweepInterruptedImports } from './library/importer.js';
import { LATEST_SCHEMA_VERSION } from './library/migrations.js';
import { deleteDocument, findInDocument, getDetail, listDocuments, readBlocks } from './library/queries.js';
import { ReadingQueue } from './reading/queue.js';
import { listReadings } from './library/reading-status.js';
import { overlayRange, surpriseSeries, traceRange } from './reading/inspect.js';
import { surprisingPassages } from './reading/surprising.js';
import { forget, history, remember, rememberAnswer, rememberSentences } from './ask/history.js';
import { answerAcrossBooks, MAX_BOOKS_ANSWERING } from './ask/answer.js';
import { answerSentences } from './ask/answer-sentence.js';
import { familiarityFrom, fuseModelScores, RERANK_CANDIDATES, retrieve } from './ask/retrieve.js';
import { focusContext } from './ask/prompt.js';
import { PathGrants } from './grants.js';

const hasReadBooks = (db: Db) => db.prepare(`SELECT 1 FROM memory_states LIMIT 1`).get() !== undefined;
import { Uploads } from './library/uploads.js';
import { FineTunes } from './training/finetunes.js';
import { scoreText } from './training/score.js';
import { deleteModel, exportChunk, importModel, listModels, modelRow, selectedModelFile, setSelectedModel } from './training/versions.js';
import { DATABASE_FILE, PRODUCT_NAME } from './paths.js';
import { VERSION } from './version.js';

export interface CoreOptions {
  dataDir: string;
  transport: AppInfo['transport'];
  /** The Electron shell provides the native open dialog (files, or folders); elsewhere there is none. */
  openFilesDialog?: (opts: { folders: boolean }) => Promise<string[]>;
  reading?: ReadingOptions;
}

export interface ReadingOptions {
  /** queue every newly imported document for reading into memory (the app: yes; the CLI: with --read) */
  autoRead?: boolean;
  /** the model checkpoint that reads (default: $TITANS_MODEL, else the library's default model) */
  modelFile?: string;
  /** the model to read with until a version is selected in the app (default: the shipped model, else an untrained one) */
  defaultModelFile?: string;
  /** a TensorFlow.js backend to force (default: $TITANS_BACKEND, else the first that works) */
  backend?: string;
  stepTokens?: number;
  checkpointTokens?: number;
  /** seconds between a fine-tune's checkpoints (default 120) */
  finetuneCheckpointSeconds?: number;
}

export interface Core {
  server: ApiServer;
  db: Db;
  info: AppInfo;
  reading: ReadingQueue;
  finetunes: FineTunes;
  /** What the user chose while the app runs; in the desktop app, the only paths the renderer may name (core/grants.ts). */
  grants: PathGrants;
  /** Pauses a reading in progress (it keeps a checkpoint), stops the model worker, closes the library. */
  close(): Promise<void>;
}

export function createCore(opts: CoreOptions): Core {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const databasePath = path.join(opts.dataDir, DATABASE_FILE);
  const db = openDatabase(databasePath);
  sweepInterruptedImports(db);
  const hub = new EventHub();
  const jobs = new JobRegistry(hub);
  const readingOpts = opts.reading ?? {};
  // --model / TITANS_MODEL fix the reading model; otherwise the version chosen in the app, else the default
  const fixedModel = readingOpts.modelFile ?? process.env.TITANS_MODEL;
  const fixedBy = readingOpts.modelFile ? 'the --model option' : process.env.TITANS_MODEL ? 'TITANS_MODEL' : null;
  const modelFile = fixedModel ?? selectedModelFile(db) ?? readingOpts.defaultModelFile;
  const backend = readingOpts.backend ?? process.env.TITANS_BACKEND;
  const reading = new ReadingQueue(db, jobs, hub, {
    databasePath,
    dataDir: opts.dataDir,
    ...(modelFile ? { modelFile: path.resolve(modelFile) } : {}),
    ...(backend ? { backend } : {}),
    ...(readingOpts.stepTokens ? { stepTokens: readingOpts.stepTokens } : {}),
    ...(readingOpts.checkpointTokens ? { checkpointTokens: readingOpts.checkpointTokens } : {}),
  });
  const finetunes = new FineTunes(db, jobs, hub, { dataDir: opts.dataDir, ...(backend ? { backend } : {}), ...(readingOpts.finetuneCheckpointSeconds ? { checkpointSeconds: readingOpts.finetuneCheckpointSeconds } : {}) }, async () => (await reading.model()).model.id);
  const readingModelId = () => reading.model().then((m) => m.model.id, () => null);
  const uploads = new Uploads(path.join(opts.dataDir, 'uploads', String(process.pid)));
  const info: AppInfo = {
    name: PRODUCT_NAME,
    version: VERSION,
    transport: opts.transport,
    dataDir: opts.dataDir,
    databasePath,
    schemaVersion: LATEST_SCHEMA_VERSION,
    features: { nativeOpenDialog: opts.openFilesDialog !== undefined, importByPath: opts.transport !== 'websocket' },
  };

  // The desktop renderer may name only paths the user chose (dialog, drop); the CLI's user typed them.
  const grants = new PathGrants();
  const chosen = (file: string, hint: string) => (opts.transport === 'electron' ? grants.check(file, hint) : path.resolve(file));

  const importFile = (file: string, displayName: string, jobId: string | undefined) =>
    jobs.run('import', `Importing ${displayName}`, 'bytes', jobId, async (job) => {
      const result = await importDocument(db, file, {
        displayName,
        signal: job.signal,
        onProgress: (p) => job.progress(p.bytesDone, p.bytesTotal),
      });
      if (!result.duplicate) hub.emit('library.changed', {});
      if (readingOpts.autoRead && !result.document.reading) autoRead(result.document.id, result.document.title);
      return result;
    });

  // A failure to start reading (no usable model) must not fail the import: it is reported as a failed job.
  const autoRead = (docId: number, title: string) =>
    reading.start(docId).catch((e: unknown) => {
      const error = ApiError.from(e).toJSON();
      hub.emit('job.progress', { jobId: randomUUID(), kind: 'read', label: `Reading “${title}” into memory`, docId, state: 'failed', done: 0, total: 0, unit: 'tokens', ratePerSecond: null, etaSeconds: null, error });
    });

  // The app picks up what a crash or a closed window interrupted (the CLI does it in `read`).
  if (readingOpts.autoRead) {
    finetunes.resumeInterrupted();
    void reading.resumeInterrupted().catch((e: unknown) => console.error(`Reading into memory is unavailable: ${ApiError.from(e).message}`));
  }

  // The passages for a question: BM25, with the books' memories ranking the books; without a usable
  // model, BM25 alone.
  const findPassages = async (question: string, ids: number[] | undefined, top: number, memory: boolean, rerank: boolean) => {
    const rows = memory && hasReadBooks(db) ? await reading.recall(question, ids, 0).then((r) => r.rows, () => []) : [];
    const r = retrieve(db, question, { top: rerank ? Math.max(top, RERANK_CANDIDATES) : top, familiarity: familiarityFrom(rows), ...(ids ? { ids } : {}) });
    if (rerank && r.citations.length > 1) {
      const passages = r.citations.slice(0, RERANK_CANDIDATES).map((c) => ({ docId: c.docId, text: focusContext([c.text], question, 300) }));
      // without a usable model the text match and familiarity ranking stands
      const scores = await reading.scorePassages({ question, passages, useMemory: memory }).catch(() => null);
      if (scores) r.citations = fuseModelScores(r.citations, scores);
    }
    return { ...r, citations: r.citations.slice(0, top) };
  };

  const handlers: Handlers = {
    'app.info': () => info,
    'library.list': () => listDocuments(db),
    'library.get': ({ id }) => getDetail(db, id),
    'library.delete': async ({ id }) => {
      await reading.release(id);
      const deleted = deleteDocument(db, id);
      if (deleted) hub.emit('library.changed', {});
      return { deleted };
    },
    'library.importPath': ({ path: file, jobId }) => {
      if (!info.features.importByPath) throw new ApiError('unavailable', 'Importing by path is not available in the browser; upload the file instead.');
      return importFile(chosen(file, 'Add it with “Add files…” or drag it onto the window.'), path.basename(file), jobId);
    },
    'upload.begin': ({ name, size }) => ({ uploadId: uploads.begin(name, size) }),
    'upload.chunk': ({ uploadId, offset, base64 }) => ({ received: uploads.chunk(uploadId, offset, base64) }),
    'upload.finish': ({ uploadId, jobId }) => uploads.finish(uploadId, (file, name) => importFile(file, name, jobId)),
    'upload.abort': ({ uploadId }) => {
      uploads.abort(uploadId);
      return {};
    },
    'doc.blocks': ({ id, from, count }) => readBlocks(db, id, from, count),
    'doc.find': ({ id, query, caseSensitive, limit }) => findInDocument(db, id, query, caseSensitive, limit),
    'reading.start': ({ id }) => reading.start(id),
    'reading.pause': ({ id }) => ({ paused: reading.pause(id) }),
    'reading.list': ({ id }) => listReadings(db, id === undefined ? {} : { docId: id }),
    'doc.surprising': ({ id, top, signal }) => surprisingPassages(db, id, top, signal),
    'doc.trace': ({ id, start, end, modelId }) => traceRange(db, id, start, end, modelId),
    'doc.overlay': ({ id, start, end, modelId }) => overlayRange(db, id, start, end, modelId),
    'doc.series': ({ id, start, end, points, modelId }) => surpriseSeries(db, id, { points, ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), ...(modelId ? { modelId } : {}) }),
    'memory.recall': ({ cue, ids, next }) => reading.recall(cue, ids, next),
    'ask.retrieve': async ({ question, ids, top, memory, rerank }) => {
      const r = await findPassages(question, ids, top, memory, rerank);
      return { ...r, notFound: r.citations.length === 0, historyId: remember(db, question, ids, r.citations) };
    },
    'ask.answer': async ({ question, ids, top, memory, rerank, decoding, requestId, modelAnswer, ablation }) => {
      const r = await findPassages(question, ids, top, memory, rerank);
      const historyId = remember(db, question, ids, r.citations);
      hub.emit('ask.found', { requestId, citations: r.citations, usedMemory: r.usedMemory });
      let answered: { answers: BookAnswer[]; merged: string | null } = { answers: [], merged: null };
      let answerError: string | null = null;
      let sentences: AnswerSentence[] = [];
      if (r.citations.length > 0) {
        sentences = await answerSentences(db, question, r.citations, { maxBooks: MAX_BOOKS_ANSWERING, memory, ...(ablation ? { ablation } : {}) });
        rememberSentences(db, historyId, sentences);
        hub.emit('ask.sentences', { requestId, sentences });
      }
      if (r.citations.length > 0 && modelAnswer) {
        try {
          answered = await answerAcrossBooks(reading, question, r.citations, (docId, text) => hub.emit('ask.token', { requestId, docId, text }), { memory, decoding });
          rememberAnswer(db, historyId, answered);
        } catch (e) {
          answerError = ApiError.from(e).message; // no usable model: the passages still answer
        }
      }
      return { ...r, notFound: r.citations.length === 0, historyId, sentences, ...answered, answerError };
    },
    'ask.history': ({ query, limit }) => history(db, query, limit),
    'ask.forget': ({ id }) => ({ forgotten: forget(db, id) }),
    'models.list': async () => ({ models: listModels(db, opts.dataDir, await readingModelId()), fixedBy }),
    'models.select': async ({ id }) => {
      if (fixedBy) throw new ApiError('conflict', `The reading model is set by ${fixedBy}.`, 'Start the app without it to choose a model here.');
      const row = modelRow(db, id);
      if (!fs.existsSync(row.file)) throw new ApiError('not_found', `The file of “${row.name}” is gone (${row.file}).`, 'Delete this version, or put the file back.');
      setSelectedModel(db, id);
      await reading.switchModel(row.file);
      hub.emit('models.changed', {});
      hub.emit('library.changed', {});
      return { selectedId: id };
    },
    'models.delete': async ({ id }) => {
      const r = deleteModel(db, opts.dataDir, id, await readingModelId());
      hub.emit('models.changed', {});
      hub.emit('library.changed', {});
      return r;
    },
    'models.compare': async ({ ids, text }) => {
      const rows = ids.map((id) => modelRow(db, id));
      const scored = await scoreText(rows.map((r) => r.file), text, backend);
      return { tokens: scored.tokens, rows: scored.models.map((m, i) => ({ id: rows[i]!.id, name: rows[i]!.name, meanSurprisal: m.meanSurprisal, perplexity: Math.exp(m.meanSurprisal), surprisal: m.surprisal })) };
    },
    'models.import': async ({ path: file, uploadId }) => {
      if (file && !info.features.importByPath) throw new ApiError('unavailable', 'Files by path are not available in the browser; upload the model instead.');
      const source = file ? { file: chosen(file, 'Import it with “Import a model” in the Models view (it is uploaded).'), name: path.basename(file) } : uploads.take(uploadId!);
      try {
        const id = await importModel(db, opts.dataDir, source.file, source.name, (f) => scoreText([f], 'Titans', backend));
        hub.emit('models.changed', {});
        return listModels(db, opts.dataDir, await readingModelId()).find((m) => m.id === id)!;
      } finally {
        if (uploadId) uploads.abort(uploadId);
      }
    },
    'models.export': ({ id, format, offset }) => exportChunk(db, id, format, offset),
    'finetune.start': async ({ name, baseModelId, docIds, paths, uploadIds, options }) => {
      if (paths.length > 0 && !info.features.importByPath) throw new ApiError('unavailable', 'Files by path are not available in the browser; upload them instead.');
      const files: Array<{ file: string; name: string }> = [];
      try {
        const granted = paths.map((p) => chosen(p, 'Choose it with “Choose files…” or “Choose folders…”, or add it with “Add files” or “Add a folder” (uploaded).'));
        for (const u of uploadIds) files.push(uploads.take(u));
        return await finetunes.start({ name, ...(baseModelId ? { baseModelId } : {}), docIds, paths: granted, files, options });
      } finally {
        for (const u of uploadIds) uploads.abort(u);
      }
    },
    'finetune.list': () => finetunes.list(),
    'finetune.get': ({ id }) => finetunes.get(id),
    'finetune.pause': ({ id }) => finetunes.pause(id),
    'finetune.resume': ({ id }) => finetunes.resume(id),
    'finetune.cancel': ({ id }) => finetunes.cancel(id),
    'jobs.cancel': ({ jobId }) => ({ cancelled: jobs.cancel(jobId) }),
    'dialog.openFiles': async ({ folders }) => {
      if (!opts.openFilesDialog) throw new ApiError('unavailable', 'There is no native file dialog here; use the file picker or drag and drop.');
      const paths = await opts.openFilesDialog({ folders });
      if (folders) grants.grantFolders(paths);
      else grants.grantFiles(paths);
      return { paths };
    },
  };

  return {
    server: new ApiServer(handlers, hub),
    db,
    info,
    reading,
    finetunes,
    grants,
    async close() {
      await finetunes.close();
      jobs.cancelAll();
      await reading.close();
      db.close();
    },
  };
}
