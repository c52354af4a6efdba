// parseInWorker: parseDocument in a worker thread (parse-worker.ts) with a time limit and a heap
// limit, so a file that makes a parser loop, backtrack or allocate without end fails alone with a
// message that names the limit, and the process (the app, the host, the library) stays up.
// A worker that answered is kept for the next parse for a few seconds (starting one costs a
// module load); one that ran out of time or memory is gone, and the next parse starts a new one.
import type { Worker } from 'node:worker_threads';
import { ApiError } from '../api/errors.js';
import { spawnWorker } from '../spawn-worker.js';
import type { ParsedDocument } from './formats/index.js';
import { parseOutOfMemory, parseTimedOut, resolveLimits, type ParseLimits } from './limits.js';
import type { ParseReply, ParseRequest } from './parse-worker.js';

export interface ParseInWorkerOptions {
  /** The name to report in messages (an upload is stored under a temporary name). */
  displayName: string;
  /** Refuse files larger than this many bytes (parseDocument's default when absent). */
  maxBytes?: number;
  limits?: Partial<ParseLimits>;
  signal?: AbortSignal;
}

/** How long an idle worker is kept for the next parse. */
const IDLE_MS = 10_000;
/** How long a new worker may take to load the parsers before it counts as broken. */
const START_MS = 60_000;

interface Idle {
  worker: Worker;
  heapMb: number;
  timer: NodeJS.Timeout;
}

const idle: Idle[] = [];
let nextId = 1;

export async function parseInWorker(file: string, opts: ParseInWorkerOptions): Promise<ParsedDocument> {
  const limits = resolveLimits(opts.limits);
  const name = opts.displayName;
  const cancelled = () => new ApiError('cancelled', 'The import was cancelled; nothing was added.');
  if (opts.signal?.aborted) throw cancelled();

  const warm = takeIdle(limits.maxHeapMb);
  const worker = warm ?? spawn(limits.maxHeapMb);
  const id = nextId++;
  const request: ParseRequest = { id, file, displayName: name, maxBytes: opts.maxBytes, maxChars: limits.maxChars };

  let keep = false;
  try {
    const reply = await new Promise<ParseReply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let started = false;
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: ApiError) => {
        cleanup();
        reject(e);
      };
      const start = () => {
        started = true;
        worker.postMessage(request);
        clearTimeout(timer);
        timer = setTimeout(() => fail(parseTimedOut(name, limits.timeoutMs)), limits.timeoutMs);
      };
      const onMessage = (m: unknown) => {
        if (m && typeof m === 'object' && 'ready' in m) return start();
        const r = m as ParseReply;
        if (r?.id !== id) return;
        cleanup();
        resolve(r);
      };
      const onError = (e: Error & { code?: string }) => {
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') fail(parseOutOfMemory(name, limits.maxHeapMb));
        else if (!started) fail(new ApiError('internal', `The document parser could not start (${e.message.slice(0, 300)}).`, 'Please report this; nothing in your library was changed.'));
        else fail(new ApiError('unreadable', `${name} could not be read: the parser failed (${e.message.slice(0, 300)}).`, 'The file may be damaged or incomplete; export or download it again.'));
      };
      const onExit = (code: number) => fail(new ApiError('unreadable', `${name} could not be read: the parser stopped (exit code ${code}).`, 'The file may be damaged or incomplete; export or download it again.'));
      const onAbort = () => fail(cancelled());
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      worker.ref();
      if (warm) start();
      else timer = setTimeout(() => fail(new ApiError('internal', `The document parser did not start within ${START_MS / 1000} s.`, 'Try again; if it keeps failing, please report it.')), START_MS);
    });
    keep = true;
    if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message, reply.error.hint);
    return reply.document;
  } finally {
    if (keep) putIdle(worker, limits.maxHeapMb);
    else void worker.terminate();
  }
}

function spawn(heapMb: number): Worker {
  const worker = spawnWorker(import.meta.url, 'parse-worker', null, { resourceLimits: { maxOldGenerationSizeMb: heapMb } });
  // An error between parses (a parser's stray promise) must not become the core's uncaught exception.
  worker.on('error', () => undefined);
  worker.once('exit', () => {
    const i = idle.findIndex((w) => w.worker === worker);
    if (i >= 0) clearTimeout(idle.splice(i, 1)[0]!.timer);
  });
  return worker;
}

function takeIdle(heapMb: number): Worker | null {
  const i = idle.findIndex((w) => w.heapMb === heapMb);
  if (i < 0) return null;
  const [w] = idle.splice(i, 1);
  clearTimeout(w!.timer);
  return w!.worker;
}

function putIdle(worker: Worker, heapMb: number): void {
  if (idle.length >= 2) {
    void worker.terminate();
    return;
  }
  worker.unref(); // an idle worker never keeps the process alive
  const entry: Idle = {
    worker,
    heapMb,
    timer: setTimeout(() => {
      const i = idle.indexOf(entry);
      if (i >= 0) idle.splice(i, 1);
      void worker.terminate();
    }, IDLE_MS),
  };
  entry.timer.unref();
  idle.push(entry);
}

/** Stops the idle workers (tests; a closing app). */
export async function closeParseWorkers(): Promise<void> {
  const all = idle.splice(0);
  for (const w of all) clearTimeout(w.timer);
  await Promise.all(all.map((w) => w.worker.terminate()));
}
