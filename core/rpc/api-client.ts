// The UI's client of the core's API over the RPC (rpc.ts): what the renderer holds in Electron
// (the preload's IPC bridge) and in the browser host (a WebSocket). Events arrive as the chunks of
// one 'events.subscribe' call, made when the first listener registers; a call's own stream
// (ask.answer) goes to that call's onChunk only.
import { RemoteError, type ApiClient } from '../api/client.js';
import { apiContract, type EventName, type EventPayload } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import { createRpcClient, type RpcOptions, type RpcPort } from './rpc.js';

export interface RpcApiClient extends ApiClient {
  /** Rejects every call still waiting with `reason` and stops listening (the connection is gone). */
  close(reason: string): void;
}

const remote = (e: unknown) => {
  const err = ApiError.from(e);
  return new RemoteError(err.code, err.message, err.hint);
};

export function createRpcApiClient(port: RpcPort, options: RpcOptions = {}): RpcApiClient {
  const rpc = createRpcClient(port, apiContract, { peer: 'the core', ...options });
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  let subscribed = false;
  const subscribe = () => {
    if (subscribed) return;
    subscribed = true;
    const deliver = (m: { event: EventName; payload: unknown }) => {
      for (const l of listeners.get(m.event) ?? []) l(m.payload);
    };
    rpc.call('events.subscribe', {}, { onChunk: deliver }).then(
      () => (subscribed = false),
      (e: unknown) => {
        subscribed = false;
        if (!rpc.closed) console.warn(`titans-reader: events stopped: ${ApiError.from(e).message}`);
      },
    );
  };
  return {
    call(method, params, opts = {}) {
      return rpc.call(method, params as never, opts as never).catch((e: unknown) => Promise.reject(remote(e))) as never;
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const l = listener as (payload: unknown) => void;
      set.add(l);
      subscribe();
      return () => set.delete(l);
    },
    close(reason: string) {
      rpc.close(new ApiError('unavailable', reason));
    },
  };
}
