// parseInWorker: parseDocument in a worker thread (parse-worker.ts) with a time limit and a heap
// limit, so a file that makes a parser loop, backtrack or allocate without end fails alone with a
// message that names the limit, and the process (the app, the host, the library) stays up.
// A worker that answered is kept for the next parse for a few seconds (starting one costs a
// module load); one that ran out of time or memory is gone, and the next parse starts a new one.
// The calls go over the one RPC (core/ingest/parse-protocol.ts); the worker's own death (out of
// memory, a crash) and the time limit are watched here, beside it, and named in the error.
import type { Worker } from 'node:worker_threads';
import { ApiError } from '../api/errors.js';
import { workerPort } from '../rpc/node-ports.js';
import { createRpcClient, type RpcClient } from '../rpc/rpc.js';
import { spawnWorker } from '../spawn-worker.js';
import type { ParsedDocument } from './formats/index.js';
import { parseOutOfMemory, parseTimedOut, resolveLimits, type ParseLimits } from './limits.js';
import { ParseContract } from './parse-protocol.js';

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

interface ParseWorker {
  worker: Worker;
  rpc: RpcClient<typeof ParseContract>;
}

interface Idle extends ParseWorker {
  heapMb: number;
  timer: NodeJS.Timeout;
}

const idle: Idle[] = [];

export async function parseInWorker(file: string, opts: ParseInWorkerOptions): Promise<ParsedDocument> {
  const limits = resolveLimits(opts.limits);
  const name = opts.displayName;
  const cancelled = () => new ApiError('cancelled', 'The import was cancelled; nothing was added.');
  if (opts.signal?.aborted) throw cancelled();

  const warm = takeIdle(limits.maxHeapMb);
  const w = warm ?? spawn(limits.maxHeapMb);
  const { worker, rpc } = w;

  let keep = false;
  const calls = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let died: ApiError | null = null;
  let started = false;
  const cleanups: Array<() => void> = [];
  let setLimit: (ms: number, e: () => ApiError) => void = () => {};
  // what ends a parse besides its answer: the worker dying, the time limit, the user cancelling
  const stop = new Promise<never>((_, reject) => {
    const fail = (e: ApiError) => {
      died ??= e;
      calls.abort();
      reject(died);
    };
    const onError = (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') fail(parseOutOfMemory(name, limits.maxHeapMb));
      else if (!started) fail(new ApiError('internal', `The document parser could not start (${e.message.slice(0, 300)}).`, 'Please report this; nothing in your library was changed.'));
      else fail(new ApiError('unreadable', `${name} could not be read: the parser failed (${e.message.slice(0, 300)}).`, 'The file may be damaged or incomplete; export or download it again.'));
    };
    const onExit = (code: number) => fail(new ApiError('unreadable', `${name} could not be read: the parser stopped (exit code ${code}).`, 'The file may be damaged or incomplete; export or download it again.'));
    const onAbort = () => fail(cancelled());
    worker.on('error', onError);
    worker.on('exit', onExit);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const limit = (ms: number, e: () => ApiError) => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(e()), ms);
    };
    cleanups.push(() => {
      clearTimeout(timer);
      worker.off('error', onError);
      worker.off('exit', onExit);
      opts.signal?.removeEventListener('abort', onAbort);
    });
    setLimit = limit;
  });
  stop.catch(() => {}); // observed below; never an unhandled rejection
  try {
    worker.ref();
    if (!warm) {
      setLimit(START_MS, () => new ApiError('internal', `The document parser did not start within ${START_MS / 1000} s.`, 'Try again; if it keeps failing, please report it.'));
      await Promise.race([rpc.call('ready', {}, { signal: calls.signal }), stop]);
    }
    started = true;
    setLimit(limits.timeoutMs, () => parseTimedOut(name, limits.timeoutMs));
    const params = { file, displayName: name, ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}), maxChars: limits.maxChars };
    const document = await Promise.race([rpc.call('parse', params, { signal: calls.signal }), stop]);
    keep = true;
    return document as ParsedDocument;
  } catch (e) {
    // the worker's death is reported by the RPC too ("stopped"): the cause named here wins
    await Promise.resolve();
    throw died ?? e;
  } finally {
    for (const c of cleanups.splice(0)) c();
    if (keep) putIdle(w, limits.maxHeapMb);
    else void worker.terminate();
  }
}

function spawn(heapMb: number): ParseWorker {
  const worker = spawnWorker(import.meta.url, 'parse-worker', null, { resourceLimits: { maxOldGenerationSizeMb: heapMb } });
  const rpc = createRpcClient(workerPort(worker), ParseContract, { peer: 'the document parser' });
  // An error between parses (a parser's stray promise) must not become the core's uncaught exception.
  worker.on('error', () => undefined);
  worker.once('exit', () => {
    const i = idle.findIndex((w) => w.worker === worker);
    if (i >= 0) clearTimeout(idle.splice(i, 1)[0]!.timer);
  });
  return { worker, rpc };
}

function takeIdle(heapMb: number): ParseWorker | null {
  const i = idle.findIndex((w) => w.heapMb === heapMb);
  if (i < 0) return null;
  const [w] = idle.splice(i, 1);
  clearTimeout(w!.timer);
  return { worker: w!.worker, rpc: w!.rpc };
}

function putIdle({ worker, rpc }: ParseWorker, heapMb: number): void {
  if (idle.length >= 2) {
    void worker.terminate();
    return;
  }
  worker.unref(); // an idle worker never keeps the process alive
  const entry: Idle = {
    worker,
    rpc,
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
