// The messages every out-of-process transport carries (WebSocket, Electron IPC), validated on receipt.
import { z } from 'zod';
import { ErrorInfo, type ApiErrorShape } from './errors.js';

export const WireRequest = z
  .object({
    type: z.literal('request'),
    id: z.number().int().nonnegative(),
    method: z.string().max(64),
    params: z.unknown(),
  })
  .strict();
export type WireRequest = z.infer<typeof WireRequest>;

export const WireResponse = z.union([
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: ErrorInfo }),
]);
export type WireResponse =
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: ApiErrorShape };

export const WireEvent = z.object({ type: z.literal('event'), event: z.string(), payload: z.unknown() });
export type WireEvent = z.infer<typeof WireEvent>;

export const WireServerMessage = z.union([WireResponse, WireEvent]);
