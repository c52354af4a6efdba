// The client side of the contract: what the renderer, the CLI and tests hold.
import type { Chunk, EventName, EventPayload, Method, Params, Result } from './contract.js';
import type { ErrorInfo } from './errors.js';

export interface CallOptions<C> {
  /** Each chunk a streaming method sends (ask.answer), in order, before the call settles. */
  onChunk?: (chunk: C) => void;
  /** Cancels the call: the handler is told, and the call settles with what it returns or 'cancelled'. */
  signal?: AbortSignal;
}

export interface ApiClient {
  call<M extends Method>(method: M, params: Params<M>, options?: CallOptions<Chunk<M>>): Promise<Result<M>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** Raised on the client when the core answered with an error (the error's shape: core/api/errors.ts). */
export class RemoteError extends Error implements ErrorInfo {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}
