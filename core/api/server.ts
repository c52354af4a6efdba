// The core side of the contract: validates every request at the boundary and runs its handler.
// Transports reach it in process (core/api/in-process.ts) or over the RPC (core/rpc/api-server.ts).
import { z } from 'zod';
import { isMethod, methods, type Chunk, type Method, type ParsedParams, type Result } from './contract.js';
import { ApiError } from './errors.js';
import { EventHub } from './events.js';

/** What a handler gets beside its parameters: for a streaming method, where its chunks go; the caller's cancellation. */
export interface CallContext<C = never> {
  emit?: (chunk: C) => void;
  signal?: AbortSignal;
}

export type Handlers = {
  [M in Method]: (params: ParsedParams<M>, context: CallContext<Chunk<M>>) => Promise<Result<M>> | Result<M>;
};

export class ApiServer {
  constructor(
    private readonly handlers: Handlers,
    readonly events: EventHub,
  ) {}

  /** Validate and run one request. Throws ApiError (bad_request, unknown_method, or the handler's). */
  async dispatch(method: unknown, params: unknown, context: CallContext<unknown> = {}): Promise<unknown> {
    if (!isMethod(method)) throw new ApiError('unknown_method', `Unknown request: ${String(method).slice(0, 64)}`);
    const parsed = methods[method].params.safeParse(params ?? {});
    if (!parsed.success) {
      throw new ApiError('bad_request', `Invalid ${method} request: ${z.prettifyError(parsed.error)}`);
    }
    return this.run(method, parsed.data, context);
  }

  /** Run a request whose parameters were validated already (by the RPC, against the same schemas). */
  async run(method: Method, params: unknown, context: CallContext<unknown> = {}): Promise<unknown> {
    const handler = this.handlers[method] as (p: unknown, c: CallContext<unknown>) => unknown;
    return await handler(params, context);
  }
}
