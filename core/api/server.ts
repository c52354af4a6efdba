// The core side of the contract: validates every request at the boundary and runs its handler.
import { z } from 'zod';
import { isMethod, methods, type Method, type ParsedParams, type Result } from './contract.js';
import { ApiError } from './errors.js';
import { EventHub } from './events.js';
import { WireRequest, type WireResponse } from './wire.js';

export type Handlers = {
  [M in Method]: (params: ParsedParams<M>) => Promise<Result<M>> | Result<M>;
};

export class ApiServer {
  constructor(
    private readonly handlers: Handlers,
    readonly events: EventHub,
  ) {}

  /** Validate and run one request. Throws ApiError (bad_request, unknown_method, or the handler's). */
  async dispatch(method: unknown, params: unknown): Promise<unknown> {
    if (!isMethod(method)) throw new ApiError('unknown_method', `Unknown request: ${String(method).slice(0, 64)}`);
    const parsed = methods[method].params.safeParse(params ?? {});
    if (!parsed.success) {
      throw new ApiError('bad_request', `Invalid ${method} request: ${z.prettifyError(parsed.error)}`);
    }
    const handler = this.handlers[method] as (p: unknown) => unknown;
    return await handler(parsed.data);
  }

  /** Handle one raw message from an out-of-process client; never throws. */
  async handleWire(raw: unknown): Promise<WireResponse | null> {
    const req = WireRequest.safeParse(raw);
    if (!req.success) {
      const id = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'number' ? (raw as { id: number }).id : -1;
      return { type: 'response', id, ok: false, error: { code: 'bad_request', message: 'Malformed message' } };
    }
    try {
      const result = await this.dispatch(req.data.method, req.data.params);
      return { type: 'response', id: req.data.id, ok: true, result };
    } catch (e) {
      const err = ApiError.from(e);
      if (err.code === 'internal') console.error(`${req.data.method} failed:`, e);
      return { type: 'response', id: req.data.id, ok: false, error: err.toJSON() };
    }
  }
}
