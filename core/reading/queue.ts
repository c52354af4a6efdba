// The reading queue, on the core's side: documents wait in the readings table (status 'queued'),
// one at a time is read by the model worker as a job (progress, rate, ETA, cancel = pause with a
// checkpoint), and readings a crash interrupted are queued again on the next start. The worker
// starts on first use, so commands that never read never load TensorFlow.js. Everything the worker
// does is a call over the RPC (core/rpc/rpc.ts, contract in ./protocol.ts): 'read' streams its
// progress and is paused by cancelling it; recall, answer (its text streamed) and scorePassages.
import type { Worker } from 'node:worker_threads';
import type { ModelInfo, ReadingStatus, RecallResult } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { EventHub } from '../api/events.js';
import type { Job, JobRegistry } from '../jobs/jobs.js';
import type { Db } from '../library/database.js';
import { getSummary } from '../library/queries.js';
import { registerModel } from '../library/model-registry.js';
import { applyReadingWrite, claimNextQueued, failReading, nextQueued, pauseQueued, queueReading, queuedCount, readerOf, readingsInProgress, releaseReading, requeueInterrupted, requeueStopped } from '../library/readings.js';
import { isAlive } from '../process.js';
import { ModelWorkerContract, type WorkerAnswer, type WorkerSettings } from './protocol.js';
import { listReadings } from '../library/reading-status.js';
import { workerPort } from '../rpc/node-ports.js';
import { createRpcClient, type CallOptions, type ChunkOf, type ParamsIn, type ResultOf, type RpcClient } from '../rpc/rpc.js';
import { spawnWorker } from '../spawn-worker.js';

type Method = keyof ModelWorkerContract & string;


interface Current {
  docId: number;
  modelId: string;
  job: Job;
  resolve: () => void;
  reject: (e: ApiError) => void;
  /** Read was asked for again while the pause was on its way: queue it again once it has stopped. */
  requeue: boolean;
}

/** How long close() and release() wait for the worker to stop at a step before ending it (the checkpoint keeps the work). */
const STOP_TIMEOUT_MS = 15_000;
/** Worker crashes in a row after which queued readings wait for the user instead of restarting it. */
const MAX_CRASHES = 3;

export class ReadingQueue {
  private worker: Worker | null = null;
  /** calls to that worker */
  private rpc: RpcClient<ModelWorkerContract> | null = null;
  private ready: Promise<{ model: ModelInfo; backend: string }> | null = null;
  private current: Current | null = null;
  private closed = false;
  private crashes = 0;
  /** the reading model's id, once the worker has started */
  private readyModelId: string | null = null;
  /** called when the current reading has ended (release before a delete, close) */
  private currentWaiters: Array<() => void> = [];
  /** settle when the queue has nothing left to read (for the CLI) */
  private idleWaiters: Array<() => void> = [];
  /** the worker is being stopped (another model chosen, or closing) */
  private stopping = false;

  constructor(
    private readonly db: Db,
    private readonly jobs: JobRegistry,
    private readonly hub: EventHub,
    private settings: WorkerSettings,
  ) {}

  /** Read with another model file from now on: a reading in progress pauses (it waits, queued,
   * for its own model) and the worker restarts with the new model on its next use. */
  async switchModel(modelFile: string | undefined): Promise<void> {
    await this.stopWorker();
    this.readyModelId = null;
    const { modelFile: _old, ...rest } = this.settings;
    this.settings = { ...rest, ...(modelFile ? { modelFile } : {}) };
    this.settleIdle();
  }

  /** The model that reads (starts the worker if needed). */
  async model(): Promise<{ model: ModelInfo; backend: string }> {
    if (this.closed) throw new ApiError('unavailable', 'The library is closing.');
    if (!this.ready) this.ready = this.startWorker();
    const ready = await this.ready;
    this.readyModelId = ready.model.id;
    return ready;
  }

  /** Queue a document for reading into memory (or resume it); returns its reading status. */
  async start(docId: number): Promise<ReadingStatus> {
    getSummary(this.db, docId); // not_found for a missing document
    const { model } = await this.model();
    const row = readerOf(this.db, docId, model.id);
    if (!row) {
      queueReading(this.db, docId, model.id, false);
    } else if (this.current?.docId === docId) {
      if (this.current.job.signal.aborted) this.current.requeue = true; // Resume pressed while pausing
    } else if (row.status === 'reading' && row.pid !== null && row.pid !== process.pid && isAlive(row.pid, row.start)) {
      throw new ApiError('unavailable', `Another Titans Reader process (pid ${row.pid}) is reading this document now.`, 'Wait for it to finish, or close it; reading then resumes here from its last checkpoint.');
    } else if (row.status !== 'done') {
      queueReading(this.db, docId, model.id, true);
    }
    this.crashes = 0; // the user asked: try again even after crashes
    this.hub.emit('library.changed', {});
    this.pump();
    return this.status(docId, model.id);
  }

  /** Pause a document: the one being read stops after its current step with a checkpoint; a queued one waits. */
  pause(docId: number): boolean {
    if (this.current?.docId === docId) {
      this.current.requeue = false;
      this.current.job.controller.abort();
      return true;
    }
    const changed = pauseQueued(this.db, docId);
    if (changed) this.hub.emit('library.changed', {});
    return changed;
  }

  /** Stop reading a document (about to be deleted, or the app closes) and wait until the worker has let go of it. */
  async release(docId: number): Promise<void> {
    if (this.current?.docId !== docId) return;
    const settled = new Promise<void>((resolve) => this.currentWaiters.push(resolve));
    this.current.requeue = false;
    this.current.job.controller.abort();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
    if ((await Promise.race([settled, late])) === 'late') {
      await this.worker?.terminate(); // onWorkerGone settles the reading; its last checkpoint stays
      await settled;
    }
    clearTimeout(timer);
  }

  /** Queue again what a crash or a closed app interrupted, and start reading it. */
  async resumeInterrupted(): Promise<number> {
    const stale = readingsInProgress(this.db).filter((r) => r.pid === null || r.pid === process.pid || !isAlive(r.pid, r.start));
    for (const r of stale) requeueInterrupted(this.db, r.docId);
    const waiting = queuedCount(this.db);
    if (waiting > 0) {
      await this.model();
      this.pump();
    }
    return waiting;
  }

  /** Resolves when nothing is being read and nothing of this model waits (or the queue closed). */
  async whenIdle(): Promise<void> {
    if (!this.ready || this.closed) return;
    await this.ready.catch(() => {});
    if (!this.current && !this.nextQueued()) return;
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The recall probe, run by the worker between reading steps. */
  recall(cue: string, docIds: number[] | undefined, next: number): Promise<RecallResult> {
    return this.request('recall', { cue, next, ...(docIds ? { docIds } : {}) });
  }

  /** Answer a question from one book with its memory loaded; the answer's text comes piece by piece to onText. */
  answer(req: { docId: number; question: string; context: string; maxTokens: number; useMemory: boolean; decoding: 'copy' | 'free' }, onText: (text: string) => void): Promise<WorkerAnswer> {
    return this.request('answer', req, { onChunk: (c) => onText(c.text) });
  }

  /** The model's score of each passage for the question, with its book's memory loaded (core/ask/score-passages.ts). */
  scorePassages(req: { question: string; passages: Array<{ docId: number; text: string }>; useMemory: boolean }): Promise<number[]> {
    return this.request('scorePassages', req);
  }

  /** Call the worker (starting it if needed) and wait for its answer. */
  private async request<M extends Method>(method: M, params: ParamsIn<ModelWorkerContract[M]>, options?: CallOptions<ChunkOf<ModelWorkerContract[M]>>): Promise<ResultOf<ModelWorkerContract[M]>> {
    await this.model();
    return this.client().call(method, params, options);
  }

  status(docId: number, modelId: string): ReadingStatus {
    return listReadings(this.db, { docId, modelId })[0]!;
  }

  /** Stop: the reading in progress stops at its step with a checkpoint and is queued again for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopWorker();
    this.settleIdle();
  }

  /** The reading in progress stops with a checkpoint and waits, queued, for the next worker; the worker ends. */
  private async stopWorker(): Promise<void> {
    this.stopping = true; // nothing new is claimed while the worker goes
    try {
      const cur = this.current;
      if (cur) {
        await this.release(cur.docId);
        requeueStopped(this.db, cur.docId, cur.modelId);
      }
      const worker = this.worker;
      // what the stopped worker will never answer
      this.rpc?.close(new ApiError('unavailable', 'The model changed or stopped while this was being answered.', 'Ask again.'));
      this.worker = null;
      this.rpc = null;
      this.ready = null;
      await worker?.terminate();
    } finally {
      this.stopping = false;
    }
  }

  private settleIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private startWorker(): Promise<{ model: ModelInfo; backend: string }> {
    const worker = spawnWorker(import.meta.url, '../model-worker', this.settings);
    this.worker = worker;
    const ready = new Promise<{ model: ModelInfo; backend: string }>((resolve, reject) => {
      // before the RPC's own listeners, so that a worker gone before it was ready says so
      const gone = (why: string) => {
        reject(new ApiError('unavailable', `The model worker could not start (${why}).`, 'Reading into memory is unavailable; the library itself works.'));
        if (this.worker === worker) this.onWorkerGone(why);
      };
      worker.on('error', (e) => gone(e.message));
      worker.on('exit', (code) => gone(`exit code ${code}`));
      // a malformed reply rejects the call it names; one that names no call is only reported
      this.rpc = createRpcClient(workerPort(worker), ModelWorkerContract, { peer: 'the model worker', onInvalid: (e) => process.stderr.write(`titans-reader: ${e.message}\n`) });
      // the worker only reads the library: the model it loaded is registered here, before any reading refers to it
      this.rpc.call('ready', {}).then(({ model, backend, registration }) => {
        registerModel(this.db, model, registration.config, registration.tokenizer, registration.meta as Parameters<typeof registerModel>[4]);
        resolve({ model, backend });
      }, reject);
    });
    ready.catch(() => {
      if (this.ready === ready) this.ready = null; // a later call tries again
      this.settleIdle();
    });
    this.ready = ready;
    return ready;
  }

  private onWorkerGone(why: string): void {
    this.worker = null;
    this.ready = null;
    this.rpc?.close(new ApiError('unavailable', `The model worker stopped (${why}).`, 'Try again.'));
    this.rpc = null;
    const cur = this.current;
    if (!cur) return;
    if (this.closed) {
      // closing: the row keeps its last checkpoint and is queued again by close()
      cur.reject(new ApiError('cancelled', 'Reading stopped as the app closed; it resumes from its last checkpoint.'));
      return;
    }
    this.crashes++;
    this.fail(cur.docId, new ApiError('internal', `The model worker stopped unexpectedly (${why}).`, 'Start reading again: it resumes from the last checkpoint.'));
  }

  private fail(docId: number, error: ApiError): void {
    failReading(this.db, docId, error.toJSON());
    if (this.current?.docId === docId) this.current.reject(error);
  }

  private nextQueued(): { docId: number; modelId: string } | null {
    if (!this.readyModelId) return null;
    return nextQueued(this.db, this.readyModelId);
  }

  /** Take the next queued reading, atomically: another process (the CLI beside the app) may be taking one too. */
  private claimNext(): { docId: number; modelId: string } | null {
    return this.readyModelId ? claimNextQueued(this.db, this.readyModelId) : null;
  }

  private pump(): void {
    if (this.current || this.closed || this.stopping) return;
    if (!this.ready) {
      // the worker is gone (it crashed): start another for what waits, unless it keeps crashing
      if (this.crashes >= MAX_CRASHES || !this.nextQueued()) return this.settleIdle();
      this.ready = this.startWorker();
    }
    void this.ready.then(
      ({ model }) => {
        this.readyModelId = model.id;
        if (this.current || this.closed || this.stopping) return;
        const next = this.claimNext();
        if (!next) return this.settleIdle();
        this.run(next.docId, next.modelId);
      },
      () => this.settleIdle(),
    );
  }

  private run(docId: number, modelId: string): void {
    const title = getSummary(this.db, docId).title;
    this.hub.emit('library.changed', {});
    const work = (job: Job) =>
      new Promise<void>((resolve, reject) => {
        this.current = { docId, modelId, job, resolve, reject, requeue: false };
        const worker = this.worker;
        // pausing cancels the read: the worker stops after its step, with a checkpoint, and says how far it got
        const pause = new AbortController();
        job.signal.addEventListener('abort', () => pause.abort(), { once: true });
        this.client()
          .call('read', { docId }, { signal: pause.signal, onChunk: (c) => (c.kind === 'progress' ? job.progress(c.done, c.total) : applyReadingWrite(this.db, c.write)) })
          .then(
            (r) => {
              this.crashes = 0;
              if (r.outcome === 'done') return resolve();
              const pct = r.tokensTotal > 0 ? Math.floor((100 * r.tokensDone) / r.tokensTotal) : 0;
              reject(new ApiError('cancelled', `Reading paused at ${pct}%; the memory so far is kept.`, 'Start reading again to continue from where it stopped.'));
            },
            (e: unknown) => {
              if (this.worker !== worker) return; // the worker is gone: onWorkerGone (or close) settled the reading
              this.fail(docId, ApiError.from(e)); // the read failed, or its reply was malformed
            },
          );
      });
    this.jobs
      .run('read', `Reading “${title}” into memory`, 'tokens', undefined, work, { docId })
      .catch(() => {}) // the job's own event carries the error to the UI
      .finally(() => {
        const requeue = this.current?.requeue === true && !this.closed;
        releaseReading(this.db, docId, modelId, requeue);
        const waiters = this.currentWaiters.splice(0);
        this.current = null;
        for (const w of waiters) w();
        this.hub.emit('library.changed', {});
        this.pump();
      });
  }

  private client(): RpcClient<ModelWorkerContract> {
    if (!this.rpc) throw new ApiError('unavailable', 'The model worker is not running (the model is being changed).', 'Try again in a moment.');
    return this.rpc;
  }
}
