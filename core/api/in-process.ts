// In-process transport (tests, CLI): the same validation path as the remote transports.
import type { ApiClient } from './client.js';
import { RemoteError } from './client.js';
import type { EventName, EventPayload } from './contract.js';
import { ApiError } from './errors.js';
import type { ApiServer } from './server.js';

export function createInProcessClient(server: ApiServer): ApiClient {
  return {
    async call(method, params, options = {}) {
      try {
        if (options.signal?.aborted) throw new ApiError('cancelled', `'${method}' was cancelled.`);
        const context = { ...(options.onChunk ? { emit: options.onChunk as (chunk: unknown) => void } : {}), ...(options.signal ? { signal: options.signal } : {}) };
        return (await server.dispatch(method, params, context)) as never;
      } catch (e) {
        const err = ApiError.from(e);
        throw new RemoteError(err.code, err.message, err.hint);
      }
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      return server.events.subscribe((name: EventName, payload: unknown) => {
        if (name === event) listener(payload as EventPayload<E>);
      });
    },
  };
}
