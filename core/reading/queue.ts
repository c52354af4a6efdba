// The reading queue, on the core's side: documents wait in the readings table (status 'queued'),
// one at a time is read by the model worker as a job (progress, rate, ETA, cancel = pause with a
// checkpoint), and readings a crash interrupted are queued again on the next start. The worker
// starts on first use, so commands that never read never load TensorFlow.js.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ReadingStatus } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { EventHub } from '../api/events.js';
import type { Job, JobRegistry } from '../jobs/jobs.js';
import type { Db } from '../library/database.js';
import { getSummary } from '../library/queries.js';
import { isAlive } from '../process.js';
import { FromWorker, type ToWorker, type WorkerSettings } from './protocol.js';
import { listReadings } from './status.js';

type ModelInfo = Extract<FromWorker, { type: 'ready' }>['model'];

interface Current {
  docId: number;
  job: Job;
  resolve: () => void;
  reject: (e: ApiError) => void;
}

/** A worker from this module's sibling worker file; under tsx or vitest (.ts sources) tsx is registered inside it first. */
function spawnWorker(settings: WorkerSettings): Worker {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const entry = new URL(`./worker${ext}`, import.meta.url);
  if (ext === '.js') return new Worker(entry, { workerData: settings });
  const tsxApi = createRequire(import.meta.url).resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs');
  const boot = `import(${JSON.stringify(new URL(`file://${tsxApi}`).href)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: settings });
}

export class ReadingQueue {
  private worker: Worker | null = null;
  private ready: Promise<{ model: ModelInfo; backend: string }> | null = null;
  private current: Current | null = null;
  private closed = false;
  /** the reading model's id, once the worker has started */
  private readyModelId: string | null = null;
  /** called when the current reading has ended (release before a delete) */
  private currentWaiters: Array<() => void> = [];
  /** settles when the queue has nothing left to read (for the CLI) */
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly db: Db,
    private readonly jobs: JobRegistry,
    private readonly hub: EventHub,
    private readonly settings: WorkerSettings,
  ) {}

  /** The model that reads (starts the worker if needed). */
  async model(): Promise<{ model: ModelInfo; backend: string }> {
    if (this.closed) throw new ApiError('unavailable', 'The library is closing.');
    if (!this.ready) this.ready = this.startWorker();
    return this.ready;
  }

  /** Queue a document for reading into memory (or resume it); returns its reading status. */
  async start(docId: number): Promise<ReadingStatus> {
    getSummary(this.db, docId); // not_found for a missing document
    const { model } = await this.model();
    this.readyModelId = model.id;
    const now = new Date().toISOString();
    const row = this.db.prepare(`SELECT status, reader_pid AS pid FROM readings WHERE doc_id = ? AND model_id = ?`).get(docId, model.id) as { status: string; pid: number | null } | undefined;
    if (!row) {
      this.db.prepare(`INSERT INTO readings (doc_id, model_id, status, queued_at, updated_at) VALUES (?, ?, 'queued', ?, ?)`).run(docId, model.id, now, now);
    } else if (row.status === 'reading' && row.pid !== null && row.pid !== process.pid && isAlive(row.pid)) {
      throw new ApiError('unavailable', `Another Titans Reader process (pid ${row.pid}) is reading this document now.`, 'Wait for it to finish, or close it; reading then resumes here from its last checkpoint.');
    } else if (row.status !== 'done' && !(this.current?.docId === docId)) {
      this.db.prepare(`UPDATE readings SET status = 'queued', error = NULL, queued_at = ?, updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(now, now, docId, model.id);
    }
    this.hub.emit('library.changed', {});
    this.pump();
    return this.status(docId, model.id);
  }

  /** Pause a document: the one being read stops after its current step with a checkpoint; a queued one waits. */
  pause(docId: number): boolean {
    if (this.current?.docId === docId) {
      this.current.job.controller.abort();
      return true;
    }
    const changed = this.db.prepare(`UPDATE readings SET status = 'paused', updated_at = ? WHERE doc_id = ? AND status = 'queued'`).run(new Date().toISOString(), docId).changes > 0;
    if (changed) this.hub.emit('library.changed', {});
    return changed;
  }

  /** Stop reading a document about to be deleted, and wait until the worker has let go of it. */
  async release(docId: number): Promise<void> {
    if (this.current?.docId !== docId) return;
    const settled = new Promise<void>((resolve) => this.waitForCurrent(resolve));
    this.current.job.controller.abort();
    await settled;
  }

  /** Queue again what a crash or a closed app interrupted, and start reading it. */
  async resumeInterrupted(): Promise<number> {
    const rows = this.db.prepare(`SELECT doc_id AS docId, reader_pid AS pid FROM readings WHERE status = 'reading'`).all() as Array<{ docId: number; pid: number | null }>;
    const stale = rows.filter((r) => r.pid === null || r.pid === process.pid || !isAlive(r.pid));
    for (const r of stale) this.db.prepare(`UPDATE readings SET status = 'queued', reader_pid = NULL WHERE doc_id = ? AND status = 'reading'`).run(r.docId);
    const waiting = this.db.prepare(`SELECT count(*) FROM readings WHERE status = 'queued'`).pluck().get() as number;
    if (waiting > 0) {
      await this.model();
      this.pump();
    }
    return waiting;
  }

  /** Resolves when nothing is being read and nothing of this model waits. */
  async whenIdle(): Promise<void> {
    if (!this.ready) return;
    this.readyModelId = (await this.ready).model.id;
    if (!this.current && !this.nextQueued()) return;
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  status(docId: number, modelId: string): ReadingStatus {
    return listReadings(this.db, { docId, modelId })[0]!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.current) await this.release(this.current.docId);
    await this.worker?.terminate();
    this.worker = null;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private startWorker(): Promise<{ model: ModelInfo; backend: string }> {
    const worker = spawnWorker(this.settings);
    this.worker = worker;
    const ready = new Promise<{ model: ModelInfo; backend: string }>((resolve, reject) => {
      worker.on('message', (raw: unknown) => {
        const parsed = FromWorker.safeParse(raw);
        if (!parsed.success) return;
        const m = parsed.data;
        if (m.type === 'ready') resolve({ model: m.model, backend: m.backend });
        else if (m.type === 'fatal') reject(new ApiError(m.error.code as ApiError['code'], m.error.message, m.error.hint));
        else this.onWorkerMessage(m);
      });
      worker.on('error', (e) => {
        reject(new ApiError('unavailable', `The model worker failed to start: ${e.message}`, 'Reading into memory is unavailable; the library itself works.'));
        this.onWorkerGone(e.message);
      });
      worker.on('exit', (code) => {
        reject(new ApiError('unavailable', `The model worker stopped (exit code ${code}).`));
        this.onWorkerGone(`exit code ${code}`);
      });
    });
    ready.catch(() => (this.ready = null)); // a later call tries again
    return ready;
  }

  private onWorkerGone(why: string): void {
    this.worker = null;
    this.ready = null;
    if (this.current && !this.closed) {
      this.fail(this.current.docId, new ApiError('internal', `The model worker stopped unexpectedly (${why}).`, 'Start reading again: it resumes from the last checkpoint.'));
    }
  }

  private onWorkerMessage(m: Exclude<FromWorker, { type: 'ready' | 'fatal' }>): void {
    const cur = this.current;
    if (!cur || cur.docId !== m.docId) return;
    if (m.type === 'progress') cur.job.progress(m.done, m.total);
    else if (m.type === 'finished') {
      if (m.outcome === 'done') cur.resolve();
      else {
        const pct = m.tokensTotal > 0 ? Math.floor((100 * m.tokensDone) / m.tokensTotal) : 0;
        cur.reject(new ApiError('cancelled', `Reading paused at ${pct}%; the memory so far is kept.`, 'Start reading again to continue from where it stopped.'));
      }
    } else this.fail(m.docId, new ApiError(m.error.code as ApiError['code'], m.error.message, m.error.hint));
  }

  private fail(docId: number, error: ApiError): void {
    this.db.prepare(`UPDATE readings SET status = 'failed', reader_pid = NULL, error = ?, updated_at = ? WHERE doc_id = ? AND status = 'reading'`).run(JSON.stringify(error.toJSON()), new Date().toISOString(), docId);
    if (this.current?.docId === docId) this.current.reject(error);
  }

  private nextQueued(): { docId: number; modelId: string } | null {
    const model = this.readyModelId;
    if (!model) return null;
    return (this.db.prepare(`SELECT doc_id AS docId, model_id AS modelId FROM readings WHERE status = 'queued' AND model_id = ? ORDER BY queued_at, doc_id LIMIT 1`).get(model) as { docId: number; modelId: string } | undefined) ?? null;
  }

  private pump(): void {
    if (this.current || this.closed || !this.ready) return;
    void this.ready.then(({ model }) => {
      this.readyModelId = model.id;
      if (this.current || this.closed) return;
      const next = this.nextQueued();
      if (!next) {
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      this.run(next.docId, model.id);
    }, () => {});
  }

  private run(docId: number, modelId: string): void {
    const title = getSummary(this.db, docId).title;
    this.db.prepare(`UPDATE readings SET status = 'reading', reader_pid = ?, updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(process.pid, new Date().toISOString(), docId, modelId);
    this.hub.emit('library.changed', {});
    const work = (job: Job) =>
      new Promise<void>((resolve, reject) => {
        this.current = { docId, job, resolve, reject };
        this.post({ type: 'read', docId });
        job.signal.addEventListener('abort', () => this.post({ type: 'pause' }), { once: true });
      });
    this.jobs
      .run('read', `Reading “${title}” into memory`, 'tokens', undefined, work, { docId })
      .catch(() => {}) // the job's own event carries the error to the UI
      .finally(() => {
        this.db.prepare(`UPDATE readings SET reader_pid = NULL WHERE doc_id = ? AND model_id = ?`).run(docId, modelId);
        const waiters = this.currentWaiters.splice(0);
        this.current = null;
        for (const w of waiters) w();
        this.hub.emit('library.changed', {});
        this.pump();
      });
  }

  private waitForCurrent(resolve: () => void): void {
    this.currentWaiters.push(resolve);
  }

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }
}
