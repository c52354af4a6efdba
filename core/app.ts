// Builds the core (the composition root): opens the library in the data folder, starts the
// services, and wires every API request to its service's handler (core/handlers/).
// The Electron shell, the browser host, the CLI and tests all start here.
import fs from 'node:fs';
import path from 'node:path';
import type { AppInfo } from './api/contract.js';
import { ApiError } from './api/errors.js';
import { EventHub } from './api/events.js';
import { ApiServer, type Handlers } from './api/server.js';
import { askHandlers } from './handlers/ask.js';
import { finetuneHandlers } from './handlers/finetune.js';
import { libraryHandlers } from './handlers/library.js';
import { modelHandlers } from './handlers/models.js';
import { readingHandlers } from './handlers/reading.js';
import type { Services } from './handlers/services.js';
import { systemHandlers } from './handlers/system.js';
import { JobRegistry } from './jobs/jobs.js';
import { openDatabase, type Db } from './library/database.js';
import { sweepInterruptedImports } from './library/importer.js';
import { LATEST_SCHEMA_VERSION } from './library/migrations.js';
import { Uploads } from './library/uploads.js';
import { ReadingQueue } from './reading/queue.js';
import { PathGrants } from './grants.js';
import { FineTunes } from './training/finetunes.js';
import { selectedModelFile } from './training/versions.js';
import { DATABASE_FILE, PRODUCT_NAME } from './paths.js';
import { VERSION } from './version.js';
import { parseReadEngine, type ReadEngine } from './reading/reading-engine.js';

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
  /** 'tfjs': read documents with TensorFlow.js alone (default: $TITANS_READ_ENGINE, else onnxruntime where it applies) */
  readEngine?: ReadEngine;
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
  const readEngine = readingOpts.readEngine ?? parseReadEngine(process.env.TITANS_READ_ENGINE);
  const reading = new ReadingQueue(db, jobs, hub, {
    databasePath,
    dataDir: opts.dataDir,
    ...(modelFile ? { modelFile: path.resolve(modelFile) } : {}),
    ...(backend ? { backend } : {}),
    ...(readEngine ? { readEngine } : {}),
    ...(readingOpts.stepTokens ? { stepTokens: readingOpts.stepTokens } : {}),
    ...(readingOpts.checkpointTokens ? { checkpointTokens: readingOpts.checkpointTokens } : {}),
  });
  const finetunes = new FineTunes(db, jobs, hub, { dataDir: opts.dataDir, ...(backend ? { backend } : {}), ...(readingOpts.finetuneCheckpointSeconds ? { checkpointSeconds: readingOpts.finetuneCheckpointSeconds } : {}) }, async () => (await reading.model()).model.id);
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

  // The app picks up what a crash or a closed window interrupted (the CLI does it in `read`).
  if (readingOpts.autoRead) {
    finetunes.resumeInterrupted();
    void reading.resumeInterrupted().catch((e: unknown) => console.error(`Reading into memory is unavailable: ${ApiError.from(e).message}`));
  }

  const services: Services = {
    db,
    hub,
    jobs,
    reading,
    finetunes,
    uploads,
    info,
    dataDir: opts.dataDir,
    backend,
    fixedBy,
    autoRead: readingOpts.autoRead === true,
    grants,
    chosen,
    openFilesDialog: opts.openFilesDialog,
  };
  // one table, one handler for every method of the contract (core/api/contract.ts), by service
  const handlers: Handlers = {
    ...systemHandlers(services),
    ...libraryHandlers(services),
    ...readingHandlers(services),
    ...askHandlers(services),
    ...modelHandlers(services),
    ...finetuneHandlers(services),
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
