// Long-running work the UI can watch and cancel: progress with rate and ETA, pushed as events.
import { randomUUID } from 'node:crypto';
import type { JobProgress } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { EventHub } from '../api/events.js';

const EMIT_INTERVAL_MS = 200;

export class Job {
  readonly controller = new AbortController();
  private readonly startedAt = Date.now();
  private lastEmit = 0;
  private done = 0;
  private total = 0;
  /** the first progress reported: work resumed from a checkpoint does not inflate the rate */
  private base: { done: number; at: number } | null = null;

  constructor(
    readonly id: string,
    private readonly kind: JobProgress['kind'],
    private readonly label: string,
    private readonly unit: JobProgress['unit'],
    private readonly hub: EventHub,
    private readonly docId?: number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  progress(done: number, total: number): void {
    if (!this.base && total > 0) this.base = { done, at: Date.now() };
    this.done = done;
    this.total = total;
    const now = Date.now();
    if (now - this.lastEmit < EMIT_INTERVAL_MS) return;
    this.lastEmit = now;
    this.emit('running');
  }

  finish(state: 'done' | 'failed' | 'cancelled', error?: ApiError): void {
    if (state === 'done') this.done = this.total;
    this.emit(state, error);
  }

  private emit(state: JobProgress['state'], error?: ApiError): void {
    const from = this.base ?? { done: 0, at: this.startedAt };
    const seconds = (Date.now() - from.at) / 1000;
    const rate = seconds > 0.05 && this.done > from.done ? (this.done - from.done) / seconds : null;
    const eta = rate && this.total > this.done ? (this.total - this.done) / rate : state === 'running' ? null : 0;
    const payload: JobProgress = {
      jobId: this.id,
      kind: this.kind,
      label: this.label,
      state,
      done: this.done,
      total: this.total,
      unit: this.unit,
      ratePerSecond: rate,
      etaSeconds: eta,
    };
    if (this.docId !== undefined) payload.docId = this.docId;
    if (error) payload.error = error.toJSON();
    this.hub.emit('job.progress', payload);
  }
}

export class JobRegistry {
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly hub: EventHub) {}

  /** Run `work` as a job; its progress and outcome are broadcast, and it can be cancelled by id. */
  async run<T>(
    kind: JobProgress['kind'],
    label: string,
    unit: JobProgress['unit'],
    requestedId: string | undefined,
    work: (job: Job) => Promise<T>,
    about: { docId?: number } = {},
  ): Promise<T> {
    const id = requestedId && !this.jobs.has(requestedId) ? requestedId : randomUUID();
    const job = new Job(id, kind, label, unit, this.hub, about.docId);
    this.jobs.set(id, job);
    job.progress(0, 0);
    try {
      const result = await work(job);
      job.finish('done');
      return result;
    } catch (e) {
      // Work that stops with its own error says what happened (a paused reading: what was kept; a
      // failure that came before the cancel reached it: the failure).
      const own = e instanceof ApiError ? e : null;
      const err = job.signal.aborted ? (own ?? new ApiError('cancelled', `${label}: cancelled; nothing was changed.`)) : ApiError.from(e);
      job.finish(err.code === 'cancelled' ? 'cancelled' : 'failed', err);
      throw err;
    } finally {
      this.jobs.delete(id);
    }
  }

  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    job.controller.abort();
    return true;
  }

  cancelAll(): void {
    for (const job of this.jobs.values()) job.controller.abort();
  }
}
