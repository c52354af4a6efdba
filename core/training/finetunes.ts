// Fine-tune jobs, on the core's side: a row per job in `finetunes`, its dataset and checkpoint in
// DATA/finetunes/<id>/, one job trained at a time by the fine-tune worker (core/training/worker.ts)
// with progress, rate and ETA; every logged step is kept (finetune_metrics) and pushed to the UI.
// Pause keeps the checkpoint; resume, a restart after a crash or a closed app continue from it;
// cancel removes it. The finished model becomes a version whose parent is the base model.
import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { FineTuneDetail, FineTuneOptions, FineTunePoint, FineTuneSummary } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { EventHub } from '../api/events.js';
import type { Job, JobRegistry } from '../jobs/jobs.js';
import type { Db } from '../library/database.js';
import { isAlive, PROCESS_START } from '../process.js';
import { inspectModelFile, registerModel } from '../reading/reader-model.js';
import { spawnWorker } from '../spawn-worker.js';
import { buildDataset, type DatasetSources } from './dataset.js';
import { FineTuneRunOptions, TrainerContract, type TrainSettings } from './protocol.js';
import { workerPort } from '../rpc/node-ports.js';
import { createRpcClient, type ChunkOf } from '../rpc/rpc.js';
import { modelRow } from './versions.js';

interface Row {
  id: number;
  name: string;
  base_model_id: string;
  base_name: string | null;
  base_file: string;
  status: FineTuneSummary['status'];
  options: string;
  dataset: string;
  step: number;
  held_out_before: number | null;
  held_out_after: number | null;
  train_tokens: number | null;
  held_out_tokens: number | null;
  seconds: number;
  result_model_id: string | null;
  error: string | null;
  runner_pid: number | null;
  created_at: string;
  updated_at: string;
}

export interface FineTuneSettings {
  dataDir: string;
  backend?: string;
  /** seconds between checkpoints (default 120) */
  checkpointSeconds?: number;
}

interface Running {
  id: number;
  worker: Worker;
  /** aborted to stop the training at its next step (its checkpoint saved): cancels the 'train' call */
  stop: AbortController;
  job: Job;
  /** what the stop is for */
  stopping: 'pause' | 'cancel' | null;
  done: Promise<void>;
}

export class FineTunes {
  private running: Running | null = null;
  /** a fine-tune gathering its dataset (not yet running) */
  private starting: Promise<unknown> | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly jobs: JobRegistry,
    private readonly hub: EventHub,
    private readonly settings: FineTuneSettings,
    /** the model that reads now (default base) */
    private readonly currentModelId: () => Promise<string>,
  ) {}

  dir(id: number): string {
    return path.join(this.settings.dataDir, 'finetunes', String(id));
  }

  list(): FineTuneSummary[] {
    return (this.db.prepare(`${SELECT} ORDER BY f.id DESC`).all() as Row[]).map(summary);
  }

  get(id: number): FineTuneDetail {
    const row = this.db.prepare(`${SELECT} WHERE f.id = ?`).get(id) as Row | undefined;
    if (!row) throw new ApiError('not_found', `There is no fine-tune ${id}.`);
    const points = this.db.prepare(`SELECT step, loss, eval_loss AS evalLoss, lr, tokens_per_second AS tokensPerSecond FROM finetune_metrics WHERE finetune_id = ? ORDER BY step`).all(id) as FineTunePoint[];
    return { ...summary(row), points };
  }

  /** Create a fine-tune: gather its dataset, then train (the promise resolves when it has started). */
  async start(req: { name: string; baseModelId?: string; options: Partial<FineTuneOptions> } & DatasetSources): Promise<FineTuneSummary> {
    this.refuseIfBusy();
    const created = this.create(req);
    this.starting = created;
    try {
      return await created;
    } finally {
      this.starting = null;
    }
  }

  private async create(req: { name: string; baseModelId?: string; options: Partial<FineTuneOptions> } & DatasetSources): Promise<FineTuneSummary> {
    const base = modelRow(this.db, req.baseModelId ?? (await this.currentModelId()));
    if (!fs.existsSync(base.file)) throw new ApiError('not_found', `The file of “${base.name}” is gone (${base.file}).`, 'Choose another base model.');
    const options = FineTuneRunOptions.parse(req.options);
    const now = new Date().toISOString();
    const id = Number(
      this.db
        .prepare(`INSERT INTO finetunes (name, base_model_id, base_file, status, options, dataset, runner_pid, runner_pid_start, created_at, updated_at) VALUES (?, ?, ?, 'running', ?, '{}', ?, ?, ?, ?)`)
        .run(req.name, base.id, base.file, JSON.stringify(options), process.pid, PROCESS_START, now, now).lastInsertRowid,
    );
    try {
      const dataset = await buildDataset(this.db, req, path.join(this.dir(id), 'dataset.json'));
      this.db.prepare(`UPDATE finetunes SET dataset = ? WHERE id = ?`).run(JSON.stringify(dataset), id);
    } catch (e) {
      this.db.prepare(`DELETE FROM finetunes WHERE id = ?`).run(id);
      fs.rmSync(this.dir(id), { recursive: true, force: true });
      throw e;
    }
    this.run(id);
    return this.get(id);
  }

  pause(id: number): FineTuneSummary {
    if (this.running?.id === id) this.stop('pause');
    return this.get(id);
  }

  async resume(id: number): Promise<FineTuneSummary> {
    const f = this.get(id);
    if (f.status === 'running' && this.running?.id === id) return f;
    if (f.status === 'done' || f.status === 'cancelled') throw new ApiError('conflict', `“${f.name}” has ${f.status === 'done' ? 'finished' : 'been cancelled'}; it cannot be resumed.`, 'Start a new fine-tune.');
    const { pid, start } = this.db.prepare(`SELECT runner_pid AS pid, runner_pid_start AS start FROM finetunes WHERE id = ?`).get(id) as { pid: number | null; start: number | null };
    if (f.status === 'running' && pid !== null && pid !== process.pid && isAlive(pid, start)) throw new ApiError('conflict', `“${f.name}” is being trained by another Titans Reader process (pid ${pid}).`, 'Pause it there, or wait for it to finish.');
    this.refuseIfBusy();
    this.run(id);
    return this.get(id);
  }

  async cancel(id: number): Promise<FineTuneSummary> {
    if (this.running?.id === id) {
      this.stop('cancel');
      await this.running?.done;
    } else {
      const f = this.get(id);
      if (f.status === 'paused' || f.status === 'failed') this.finishCancel(id);
    }
    return this.get(id);
  }

  /** Continue what a crash or a closed app interrupted (status 'running', its process gone). */
  resumeInterrupted(): void {
    const rows = this.db.prepare(`SELECT id, runner_pid AS pid, runner_pid_start AS start FROM finetunes WHERE status = 'running'`).all() as Array<{ id: number; pid: number | null; start: number | null }>;
    for (const r of rows) {
      if (this.running || (r.pid !== null && r.pid !== process.pid && isAlive(r.pid, r.start))) continue;
      this.run(r.id);
    }
  }

  /** Stop the job in progress at its next step (its checkpoint is saved; it resumes on the next start). */
  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => {}); // a dataset being gathered: its job is then queued for the next start
    const r = this.running;
    if (!r) return;
    r.stop.abort();
    const stopped = await Promise.race([r.done.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 20_000))]);
    if (!stopped) await r.worker.terminate();
    // it was interrupted, not paused by the user: the next start continues it
    this.db.prepare(`UPDATE finetunes SET status = 'running', runner_pid = NULL WHERE id = ? AND status IN ('running', 'paused')`).run(r.id);
  }

  /** Resolves when no fine-tune is training (for the CLI and tests). */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  private refuseIfBusy(): void {
    if (this.closed) throw new ApiError('unavailable', 'The library is closing.');
    if (this.running || this.starting !== null) throw new ApiError('conflict', 'A fine-tune is already running.', 'Wait for it to finish, or pause it first.');
  }

  private stop(why: 'pause' | 'cancel'): void {
    const r = this.running!;
    r.stopping = why;
    r.stop.abort();
  }

  private update(id: number, fields: Record<string, unknown>): void {
    const sets = Object.keys(fields).map((k) => `${k} = @${k}`);
    this.db.prepare(`UPDATE finetunes SET ${[...sets, 'updated_at = @updated_at'].join(', ')} WHERE id = @id`).run({ ...fields, id, updated_at: new Date().toISOString() });
  }

  private changed(id: number, point?: FineTunePoint): void {
    const status = this.db.prepare(`SELECT status FROM finetunes WHERE id = ?`).pluck().get(id) as FineTuneSummary['status'] | undefined;
    if (status) this.hub.emit('finetune.changed', { id, status, ...(point ? { point } : {}) });
  }

  private finishCancel(id: number): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
    this.update(id, { status: 'cancelled', runner_pid: null });
    this.changed(id);
  }

  private run(id: number): void {
    if (this.closed) return; // still 'running': the next start continues it
    const f = this.get(id);
    const dir = this.dir(id);
    const outFile = path.join(this.settings.dataDir, 'models', `${slug(f.name)}-${id}.trd`);
    const workerData: TrainSettings = {
      baseModelFile: (this.db.prepare(`SELECT base_file FROM finetunes WHERE id = ?`).pluck().get(id) as string),
      datasetFile: path.join(dir, 'dataset.json'),
      checkpointPath: path.join(dir, 'checkpoint.training'),
      outFile,
      meta: { name: f.name, parent: f.baseModelId, data: f.dataset.sources.slice(0, 200), finetune: { id, options: f.options } },
      options: FineTuneRunOptions.parse(f.options),
      heldOutBefore: f.heldOutBefore,
      checkpointSeconds: this.settings.checkpointSeconds ?? 120,
      ...(this.settings.backend ? { backend: this.settings.backend } : {}),
    };
    this.update(id, { status: 'running', runner_pid: process.pid, runner_pid_start: PROCESS_START, error: null });
    this.changed(id);
    const startedAt = Date.now();
    const addSeconds = () => this.db.prepare(`UPDATE finetunes SET seconds = seconds + ? WHERE id = ?`).run((Date.now() - startedAt) / 1000, id);
    const insertPoint = this.db.prepare(
      `INSERT INTO finetune_metrics (finetune_id, step, loss, eval_loss, lr, tokens_per_second) VALUES (@id, @step, @loss, @evalLoss, @lr, @tokensPerSecond)
       ON CONFLICT (finetune_id, step) DO UPDATE SET loss = excluded.loss, eval_loss = excluded.eval_loss, lr = excluded.lr, tokens_per_second = excluded.tokens_per_second`,
    );

    let settle!: () => void;
    const done = new Promise<void>((res) => (settle = res));
    void this.jobs
      .run('finetune', `Fine-tuning “${f.name}”`, 'steps', undefined, (job) => {
        const worker = spawnWorker(import.meta.url, 'worker', null);
        const running: Running = { id, worker, stop: new AbortController(), job, stopping: null, done };
        this.running = running;
        job.signal.addEventListener('abort', () => {
          if (!running.stopping) this.stop('pause'); // the jobs panel's cancel pauses (the checkpoint is kept)
        });
        job.progress(f.step, f.options.steps);
        return new Promise<void>((resolve, reject) => {
          let ended = false;
          const end = (e?: ApiError) => {
            if (ended) return;
            ended = true;
            addSeconds();
            if (e) reject(e);
            else resolve();
          };
          const failed = (e: ApiError) => {
            this.update(id, { status: 'failed', error: JSON.stringify(e.toJSON()), runner_pid: null });
            this.changed(id);
            end(e);
          };
          // before the RPC's own listeners: a worker that dies says so in its own words
          worker.on('error', (e) => failed(ApiError.from(e)));
          worker.on('exit', (code) => {
            if (ended) return;
            const e = new ApiError('internal', `The fine-tune worker stopped unexpectedly (exit code ${code}).`, 'Resume it: it continues from its last checkpoint.');
            if (!this.closed) this.update(id, { status: 'failed', error: JSON.stringify(e.toJSON()), runner_pid: null });
            this.changed(id);
            end(e);
          });
          const onChunk = (m: ChunkOf<TrainerContract['train']>) => {
            if (m.type === 'started') {
              this.update(id, { held_out_before: m.heldOutBefore, train_tokens: m.trainTokens, held_out_tokens: m.heldOutTokens });
              this.changed(id);
            } else if (m.type === 'step') {
              const point: FineTunePoint = { step: m.step, loss: m.loss, evalLoss: m.evalLoss ?? null, lr: m.lr, tokensPerSecond: m.tokensPerSecond };
              insertPoint.run({ id, ...point });
              job.progress(m.step, f.options.steps);
              this.changed(id, point);
            } else this.update(id, { step: m.step });
          };
          createRpcClient(workerPort(worker), TrainerContract, { peer: 'the fine-tune worker' })
            .call('train', workerData, { signal: running.stop.signal, onChunk })
            .then(
              (m) => {
                if (ended) return;
                if (m.type === 'stopped') {
                  this.update(id, { step: m.step });
                  if (running.stopping === 'cancel') this.finishCancel(id);
                  else if (!this.closed) this.update(id, { status: 'paused', runner_pid: null });
                  this.changed(id);
                  return end(new ApiError('cancelled', running.stopping === 'cancel' ? `Fine-tuning “${f.name}” cancelled.` : `Fine-tuning “${f.name}” paused at step ${m.step}; resume it from the Models view.`));
                }
                try {
                  const info = inspectModelFile(outFile);
                  registerModel(this.db, info.info, info.config, info.tokenizer, info.meta);
                  this.update(id, { status: 'done', step: m.step, held_out_before: m.heldOutBefore, held_out_after: m.heldOutAfter, result_model_id: info.info.id, runner_pid: null });
                  fs.rmSync(dir, { recursive: true, force: true }); // the checkpoint and the dataset: the version holds what counts
                  this.changed(id);
                  this.hub.emit('models.changed', {});
                  end();
                } catch (e) {
                  failed(ApiError.from(e));
                }
              },
              (e: unknown) => {
                if (!ended) failed(ApiError.from(e)); // the training failed, or a reply was malformed
              },
            );
        });
      })
      .catch(() => {
        /* reported through the job event and the row */
      })
      .finally(() => {
        const r = this.running;
        this.running = null;
        void r?.worker.terminate();
        settle();
      });
  }
}

const SELECT = `SELECT f.*, m.name AS base_name FROM finetunes f LEFT JOIN models m ON m.id = f.base_model_id`;

function summary(r: Row): FineTuneSummary {
  const options = FineTuneRunOptions.parse(JSON.parse(r.options));
  const dataset = JSON.parse(r.dataset) as Partial<FineTuneSummary['dataset']>;
  return {
    id: r.id,
    name: r.name,
    baseModelId: r.base_model_id,
    baseModelName: r.base_name,
    status: r.status,
    step: r.step,
    steps: options.steps,
    options,
    dataset: { texts: dataset.texts ?? 0, chars: dataset.chars ?? 0, sources: dataset.sources ?? [], skipped: dataset.skipped ?? [] },
    heldOutBefore: r.held_out_before,
    heldOutAfter: r.held_out_after,
    trainTokens: r.train_tokens,
    heldOutTokens: r.held_out_tokens,
    seconds: r.seconds,
    resultModelId: r.result_model_id,
    error: r.error ? (JSON.parse(r.error) as FineTuneSummary['error']) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function slug(name: string): string {
  return name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'model';
}
