// The contract the RPC tests serve (rpc.test.ts), in the test thread and in a real worker (worker.ts).
import { z } from 'zod';
import { ApiError } from '../../../core/api/errors.js';
import type { RpcHandlers } from '../../../core/rpc/rpc.js';

export const TestContract = {
  add: { params: z.object({ a: z.number(), b: z.number() }), result: z.object({ sum: z.number() }) },
  count: { params: z.object({ label: z.string(), n: z.number().int().min(0).max(100), delayMs: z.number().int().min(0) }), result: z.object({ emitted: z.number() }), chunk: z.object({ label: z.string(), i: z.number() }) },
  /** waits until cancelled, emitting a tick first; returns how it ended */
  wait: { params: z.object({}), result: z.object({ cancelled: z.boolean() }), chunk: z.object({ tick: z.number() }) },
  fail: { params: z.object({ code: z.enum(['not_found', 'conflict']) }), result: z.null() },
  /** its handler returns a result the contract does not allow */
  wrongResult: { params: z.object({}), result: z.object({ ok: z.literal(true) }) },
};

export const testHandlers: RpcHandlers<typeof TestContract> = {
  add: ({ a, b }) => ({ sum: a + b }),
  count: async ({ label, n, delayMs }, { emit }) => {
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, delayMs));
      emit({ label, i });
    }
    return { emitted: n };
  },
  wait: (_p, { signal, emit }) => {
    emit({ tick: 1 });
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ cancelled: true }), { once: true }));
  },
  fail: ({ code }) => {
    throw new ApiError(code, `failed with ${code}`, 'a hint');
  },
  wrongResult: () => ({ ok: false }) as never,
};
