// A tiny typed event hub: the core publishes, transports forward to their clients.
import type { EventName, EventPayload } from './contract.js';

export type AnyEventListener = (event: EventName, payload: unknown) => void;

export class EventHub {
  private readonly listeners = new Set<AnyEventListener>();

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const listener of this.listeners) {
      try {
        listener(event, payload);
      } catch (e) {
        console.error(`event listener for ${event} failed:`, e);
      }
    }
  }

  subscribe(listener: AnyEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
