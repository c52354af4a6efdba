// The core's API served over the RPC (rpc.ts) to a UI on the other end of a port: the browser
// host's WebSocket (core/host/server.ts) or Electron's IPC (electron/ipc.ts). Parameters, results
// and chunks are validated against core/api/contract.ts's apiContract; events reach the UI as the
// chunks of its 'events.subscribe' call, so a per-call stream (ask.answer) is never broadcast.
import { apiContract, methodNames, type EventName, type EventMessage } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { ApiServer } from '../api/server.js';
import { serveRpc, type HandlerContext, type RpcHandlers, type RpcOptions, type RpcPort } from './rpc.js';

export interface ServeApiOptions extends RpcOptions {
  /** An unexpected error in a handler (code 'internal'): logged by the transport, once per error. */
  onInternalError?: (method: string, error: unknown) => void;
}

export function serveApi(port: RpcPort, api: ApiServer, options: ServeApiOptions = {}): { close(): void } {
  const onInternal = options.onInternalError ?? ((method, e) => console.error(`${method} failed:`, e));
  /** an unexpected error is logged here, then crosses as 'internal' (its message, never its stack) */
  const guard =
    <C>(method: string, f: (params: unknown, context: HandlerContext<C>) => Promise<unknown>) =>
    async (params: unknown, context: HandlerContext<C>) => {
      try {
        return await f(params, context);
      } catch (e) {
        const err = ApiError.from(e);
        if (err.code === 'internal') onInternal(method, e);
        throw err;
      }
    };
  const handlers: Record<string, unknown> = Object.fromEntries(methodNames.map((m) => [m, guard(m, (params, { emit, signal }) => api.run(m, params, { emit, signal }))]));
  handlers['events.subscribe'] = guard<EventMessage>('events.subscribe', (_params, { emit, signal }) => {
    const stop = api.events.subscribe((event: EventName, payload: unknown) => emit({ event, payload } as EventMessage));
    return new Promise((resolve) => signal.addEventListener('abort', () => (stop(), resolve({})), { once: true }));
  });
  return serveRpc(port, apiContract, handlers as RpcHandlers<typeof apiContract>, { peer: 'the page', ...options });
}
