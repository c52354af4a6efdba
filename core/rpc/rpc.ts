// One RPC mechanism for every boundary (issue 18): typed calls with zod validation of parameters,
// results and streamed chunks on both sides, streams that belong to their call, cancellation, and
// errors in the API's shape. It runs over any message port ({post, onMessage, onClose}: a worker
// thread, a WebSocket, Electron IPC; see ports.ts and node-ports.ts) and imports only zod and the
// error shape, so the renderer may use it too.
//
// On the wire (one envelope, validated on receipt):
//   caller -> handler   {rpc:'call', id, method, params}   {rpc:'cancel', id}
//   handler -> caller   {rpc:'chunk', id, chunk}           {rpc:'result', id, result}   {rpc:'error', id, error}
// A message that fails validation settles the call it names with a clear error (naming the method
// and the zod issue); it is never dropped silently. A message that names no call goes to onInvalid.
// The port closing (the worker exited, the socket closed) rejects every call still waiting.
import { z } from 'zod';
import { ApiError, ApiErrorShape } from '../api/errors.js';

/** A two-way message channel. onMessage and onClose return a function that stops listening. */
export interface RpcPort {
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): () => void;
  /** The other side is gone for good (the worker exited, the socket closed); `why` is shown in errors. */
  onClose(listener: (why: string) => void): () => void;
}

/** One method: its parameters, its result and, for a streaming method, each chunk it emits. */
export interface RpcMethod {
  params: z.ZodType;
  result: z.ZodType;
  chunk?: z.ZodType;
}
export type RpcContract = Record<string, RpcMethod>;

export type ParamsIn<M extends RpcMethod> = z.input<M['params']>;
export type ResultOf<M extends RpcMethod> = z.output<M['result']>;
export type ChunkOf<M extends RpcMethod> = M extends { chunk: infer C extends z.ZodType } ? z.output<C> : never;

const Id = z.number().int().nonnegative();
export const RpcEnvelope = z.discriminatedUnion('rpc', [
  z.object({ rpc: z.literal('call'), id: Id, method: z.string().min(1).max(64), params: z.unknown() }),
  z.object({ rpc: z.literal('cancel'), id: Id }),
  z.object({ rpc: z.literal('chunk'), id: Id, chunk: z.unknown() }),
  z.object({ rpc: z.literal('result'), id: Id, result: z.unknown() }),
  z.object({ rpc: z.literal('error'), id: Id, error: ApiErrorShape }),
]);
export type RpcEnvelope = z.infer<typeof RpcEnvelope>;

const BUG_HINT = 'This is a bug in Titans Reader; try again, and report it if it persists.';

/** The first zod issue as "path: message" (or just the message at the top). */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.map(String).join('.');
  return where ? `${where}: ${issue.message}` : issue.message;
}

/** What a received message names, read without trusting it: for settling the call a malformed message names. */
function namedId(raw: unknown): number | undefined {
  const id = raw && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : undefined;
}
function namedKind(raw: unknown): string {
  const kind = raw && typeof raw === 'object' ? (raw as { rpc?: unknown }).rpc : undefined;
  return typeof kind === 'string' ? kind.slice(0, 20) : '?';
}

export interface RpcOptions {
  /** The other side, as error messages name it ("the model worker", "the core"). */
  peer?: string;
  /** A malformed message that names no call (default: a warning on the console). */
  onInvalid?: (error: ApiError, message: unknown) => void;
}

const warnInvalid = (error: ApiError) => console.warn(`titans-reader: ${error.message}`);

// ---------------------------------------------------------------------------------------------
// The caller's side

export interface CallOptions<C> {
  /** Abort: the handler's signal is aborted; the call still settles with the handler's reply
   * (a handler that stops early returns what it has, or throws 'cancelled'). Aborted before the
   * call: it rejects at once with 'cancelled' and nothing is sent. */
  signal?: AbortSignal;
  /** Each chunk the handler emits for this call, validated, in order, before the call settles. */
  onChunk?: (chunk: C) => void;
}

/** A streaming call: iterate its chunks (the loop ends when the call settles, or throws its
 * error); `result` is the call's result. Leaving the loop early cancels the call. */
export interface RpcStream<C, R> extends AsyncIterable<C> {
  result: Promise<R>;
}

export interface RpcClient<K extends RpcContract> {
  call<M extends keyof K & string>(method: M, params: ParamsIn<K[M]>, options?: CallOptions<ChunkOf<K[M]>>): Promise<ResultOf<K[M]>>;
  stream<M extends keyof K & string>(method: M, params: ParamsIn<K[M]>, options?: { signal?: AbortSignal }): RpcStream<ChunkOf<K[M]>, ResultOf<K[M]>>;
  /** Reject every call still waiting with `error` (or a "stopped" error) and stop listening. */
  close(error?: ApiError): void;
  readonly closed: boolean;
  /** Calls waiting for their reply. */
  readonly waiting: number;
}

interface Waiting {
  method: string;
  spec: RpcMethod;
  resolve: (result: unknown) => void;
  reject: (error: ApiError) => void;
  onChunk?: (chunk: unknown) => void;
  cleanup: () => void;
}

export function createRpcClient<K extends RpcContract>(port: RpcPort, contract: K, options: RpcOptions = {}): RpcClient<K> {
  const peer = options.peer ?? 'the other side';
  const onInvalid = options.onInvalid ?? warnInvalid;
  const waiting = new Map<number, Waiting>();
  let nextId = 1;
  let closedWith: ApiError | null = null;

  const settle = (id: number): Waiting | undefined => {
    const w = waiting.get(id);
    if (!w) return undefined;
    waiting.delete(id);
    w.cleanup();
    return w;
  };
  const malformed = (method: string | undefined, kind: string, why: string) =>
    new ApiError('internal', `${capitalize(peer)} sent a malformed ${method ? `${kind} to '${method}'` : `'${kind}' message`} (${why}).`, BUG_HINT);
  const failCall = (id: number, error: ApiError) => {
    const w = settle(id);
    if (!w) return false;
    trySend({ rpc: 'cancel', id }); // the handler need not go on
    w.reject(error);
    return true;
  };
  const trySend = (m: RpcEnvelope) => {
    try {
      port.post(m);
    } catch {
      // the port is going; its close settles what waits
    }
  };

  const stopMessages = port.onMessage((raw) => {
    const parsed = RpcEnvelope.safeParse(raw);
    if (!parsed.success) {
      const id = namedId(raw);
      const w = id === undefined ? undefined : waiting.get(id);
      const error = malformed(w?.method, w ? 'reply' : namedKind(raw), describeIssue(parsed.error));
      if (id === undefined || !failCall(id, error)) onInvalid(error, raw);
      return;
    }
    const m = parsed.data;
    if (m.rpc === 'call' || m.rpc === 'cancel') return; // for a server on the same port
    const w = waiting.get(m.id);
    if (!w) return; // a reply to a call already settled (failed, or closed)
    if (m.rpc === 'chunk') {
      if (!w.spec.chunk) return void failCall(m.id, malformed(w.method, 'chunk', 'this method does not stream'));
      const chunk = w.spec.chunk.safeParse(m.chunk);
      if (!chunk.success) return void failCall(m.id, malformed(w.method, 'chunk', describeIssue(chunk.error)));
      try {
        w.onChunk?.(chunk.data);
      } catch (e) {
        failCall(m.id, ApiError.from(e));
      }
    } else if (m.rpc === 'result') {
      const result = w.spec.result.safeParse(m.result);
      if (!result.success) return void failCall(m.id, malformed(w.method, 'reply', describeIssue(result.error)));
      settle(m.id)?.resolve(result.data);
    } else {
      settle(m.id)?.reject(new ApiError(m.error.code, m.error.message, m.error.hint));
    }
  });

  const close = (error?: ApiError) => {
    if (closedWith) return;
    closedWith = error ?? new ApiError('unavailable', `${capitalize(peer)} stopped.`, 'Try again.');
    stopMessages();
    stopClose();
    for (const id of [...waiting.keys()]) settle(id)?.reject(closedWith);
  };
  const stopClose = port.onClose((why) => close(new ApiError('unavailable', `${capitalize(peer)} stopped (${why}).`, 'Try again.')));

  const call = (method: string, params: unknown, opts: CallOptions<unknown> = {}): Promise<unknown> => {
    const spec = contract[method];
    if (!spec) return Promise.reject(new ApiError('unknown_method', `No method '${method}' in this contract.`));
    if (closedWith) return Promise.reject(closedWith);
    if (opts.signal?.aborted) return Promise.reject(new ApiError('cancelled', `'${method}' was cancelled.`));
    const checked = spec.params.safeParse(params);
    if (!checked.success) return Promise.reject(new ApiError('bad_request', `Invalid parameters for '${method}' (${describeIssue(checked.error)}).`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const signal = opts.signal;
      const onAbort = () => trySend({ rpc: 'cancel', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.set(id, { method, spec, resolve, reject, ...(opts.onChunk ? { onChunk: opts.onChunk } : {}), cleanup: () => signal?.removeEventListener('abort', onAbort) });
      try {
        port.post({ rpc: 'call', id, method, params: checked.data } satisfies RpcEnvelope);
      } catch (e) {
        settle(id);
        reject(new ApiError('unavailable', `Could not reach ${peer} (${e instanceof Error ? e.message : String(e)}).`, 'Try again.'));
      }
    });
  };

  const stream = (method: string, params: unknown, opts: { signal?: AbortSignal } = {}): RpcStream<unknown, unknown> => {
    const controller = new AbortController();
    const outer = opts.signal;
    const forward = () => controller.abort();
    if (outer?.aborted) controller.abort();
    else outer?.addEventListener('abort', forward, { once: true });
    const chunks: unknown[] = [];
    let done = false;
    let failure: unknown = null;
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const result = call(method, params, { signal: controller.signal, onChunk: (c) => (chunks.push(c), poke()) });
    result.then(
      () => ((done = true), poke()),
      (e: unknown) => ((done = true), (failure = e), poke()),
    );
    result.catch(() => {}).finally(() => outer?.removeEventListener('abort', forward));
    return {
      result,
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<unknown>> {
          for (;;) {
            if (chunks.length > 0) return { value: chunks.shift(), done: false };
            if (done) {
              if (failure) throw failure;
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<unknown>> {
          if (!done) controller.abort();
          return { value: undefined, done: true };
        },
      }),
    };
  };

  return {
    call: call as RpcClient<K>['call'],
    stream: stream as RpcClient<K>['stream'],
    close,
    get closed() {
      return closedWith !== null;
    },
    get waiting() {
      return waiting.size;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The handler's side

export interface HandlerContext<C> {
  /** Aborted when the caller cancels, or the port closes. */
  signal: AbortSignal;
  /** Send a chunk of this call's stream to its caller (validated first: a bad chunk throws here). */
  emit: (chunk: C) => void;
}

export type RpcHandlers<K extends RpcContract> = {
  [M in keyof K]: (params: z.output<K[M]['params']>, context: HandlerContext<K[M] extends { chunk: infer C extends z.ZodType } ? z.input<C> : never>) => Promise<z.input<K[M]['result']>> | z.input<K[M]['result']>;
};

export function serveRpc<K extends RpcContract>(port: RpcPort, contract: K, handlers: RpcHandlers<K>, options: RpcOptions = {}): { close(): void } {
  const peer = options.peer ?? 'the other side';
  const onInvalid = options.onInvalid ?? warnInvalid;
  const running = new Map<number, AbortController>();
  let closed = false;
  const send = (m: RpcEnvelope) => {
    if (closed) return;
    try {
      port.post(m);
    } catch {
      // the port is going; nothing is left to tell
    }
  };
  const fail = (id: number, e: unknown) => send({ rpc: 'error', id, error: ApiError.from(e).toJSON() });

  const stopMessages = port.onMessage((raw) => {
    const parsed = RpcEnvelope.safeParse(raw);
    if (!parsed.success) {
      const id = namedId(raw);
      const error = new ApiError('bad_request', `${capitalize(peer)} sent a malformed '${namedKind(raw)}' message (${describeIssue(parsed.error)}).`, BUG_HINT);
      if (id !== undefined && namedKind(raw) === 'call' && !running.has(id)) fail(id, error);
      else onInvalid(error, raw);
      return;
    }
    const m = parsed.data;
    if (m.rpc === 'cancel') return void running.get(m.id)?.abort();
    if (m.rpc !== 'call') return; // for a client on the same port
    const { id, method } = m;
    if (running.has(id)) return fail(id, new ApiError('bad_request', `A second call with id ${id} while the first runs.`, BUG_HINT));
    const spec = Object.hasOwn(contract, method) ? contract[method] : undefined;
    const handler = spec ? (handlers[method] as ((params: unknown, context: HandlerContext<unknown>) => unknown) | undefined) : undefined;
    if (!spec || !handler) return fail(id, new ApiError('unknown_method', `Unknown method '${method}'.`));
    const params = spec.params.safeParse(m.params);
    if (!params.success) return fail(id, new ApiError('bad_request', `Invalid parameters for '${method}' (${describeIssue(params.error)}).`));
    const controller = new AbortController();
    running.set(id, controller);
    const emit = (chunk: unknown) => {
      if (!spec.chunk) throw new ApiError('internal', `'${method}' does not stream.`, BUG_HINT);
      const checked = spec.chunk.safeParse(chunk);
      if (!checked.success) throw new ApiError('internal', `A chunk of '${method}' failed validation (${describeIssue(checked.error)}).`, BUG_HINT);
      if (running.get(id) === controller) send({ rpc: 'chunk', id, chunk: checked.data });
    };
    Promise.resolve()
      .then(() => handler(params.data, { signal: controller.signal, emit }))
      .then(
        (result) => {
          const checked = spec.result.safeParse(result);
          if (!checked.success) throw new ApiError('internal', `The result of '${method}' failed validation (${describeIssue(checked.error)}).`, BUG_HINT);
          running.delete(id);
          send({ rpc: 'result', id, result: checked.data });
        },
      )
      .catch((e: unknown) => {
        running.delete(id);
        fail(id, e);
      });
  });

  const close = () => {
    if (closed) return;
    closed = true;
    stopMessages();
    stopClose();
    for (const c of running.values()) c.abort();
    running.clear();
  };
  const stopClose = port.onClose(close);
  return { close };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
