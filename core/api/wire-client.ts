// A client over any message channel that carries the wire format (WebSocket, Electron IPC).
import { RemoteError, type ApiClient } from './client.js';
import { isEventName, type EventName, type EventPayload } from './contract.js';
import { WireServerMessage, type WireRequest } from './wire.js';

export interface WireChannel {
  send(message: WireRequest): void;
  /** Register the receiver of server messages (responses and events). */
  onMessage(receive: (message: unknown) => void): void;
}

export function createWireClient(channel: WireChannel): ApiClient & { failAll(reason: string): void } {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();

  channel.onMessage((raw) => {
    const parsed = WireServerMessage.safeParse(raw);
    if (!parsed.success) {
      console.warn('Ignoring malformed message from the core');
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'event') {
      if (!isEventName(msg.event)) return;
      for (const l of listeners.get(msg.event) ?? []) l(msg.payload);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new RemoteError(msg.error.code, msg.error.message, msg.error.hint));
  });

  return {
    call(method, params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        try {
          channel.send({ type: 'request', id, method, params });
        } catch (e) {
          pending.delete(id);
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const l = listener as (payload: unknown) => void;
      set.add(l);
      return () => set.delete(l);
    },
    failAll(reason: string) {
      for (const p of pending.values()) p.reject(new RemoteError('internal', reason));
      pending.clear();
    },
  };
}
