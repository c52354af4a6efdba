// The one RPC mechanism (core/rpc/rpc.ts) over real worker_threads ports: typed calls, streams that
// belong to their call, cancellation, validation both ways (a message failing it rejects its call
// with the method and the zod issue), and a closed port or an exited worker rejecting every call.
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError } from '../../../core/api/errors.js';
import { messagePort, workerPort } from '../../../core/rpc/node-ports.js';
import { createRpcClient, serveRpc, type RpcEnvelope } from '../../../core/rpc/rpc.js';
import { spawnWorker } from '../../../core/spawn-worker.js';
import { TestContract, testHandlers } from './contract.js';

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

/** A client on one end of a MessageChannel and the test contract served on the other. */
function pair() {
  const channel = new MessageChannel();
  channels.push(channel);
  serveRpc(messagePort(channel.port2), TestContract, testHandlers, { peer: 'the core' });
  return createRpcClient(messagePort(channel.port1), TestContract, { peer: 'the test server' });
}

describe('the RPC', () => {
  it('makes typed calls and passes errors in the API shape', async () => {
    const client = pair();
    await expect(client.call('add', { a: 2, b: 3 })).resolves.toEqual({ sum: 5 });
    const error = await client.call('fail', { code: 'conflict' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'conflict', message: 'failed with conflict', hint: 'a hint' });
    expect(client.waiting).toBe(0);
  });

  it('streams each chunk to its own call: two concurrent streams do not mix', async () => {
    const client = pair();
    const a: string[] = [];
    const b: string[] = [];
    const [ra, rb] = await Promise.all([
      client.call('count', { label: 'a', n: 5, delayMs: 3 }, { onChunk: (c) => a.push(`${c.label}${c.i}`) }),
      client.call('count', { label: 'b', n: 4, delayMs: 2 }, { onChunk: (c) => b.push(`${c.label}${c.i}`) }),
    ]);
    expect(ra).toEqual({ emitted: 5 });
    expect(rb).toEqual({ emitted: 4 });
    expect(a).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(b).toEqual(['b0', 'b1', 'b2', 'b3']);
  });

  it('streams as an async iterator, with the result beside it', async () => {
    const client = pair();
    const s = client.stream('count', { label: 'x', n: 3, delayMs: 1 });
    const got: number[] = [];
    for await (const c of s) got.push(c.i);
    expect(got).toEqual([0, 1, 2]);
    await expect(s.result).resolves.toEqual({ emitted: 3 });
  });

  it('cancels: the abort reaches the handler, whose reply settles the call', async () => {
    const client = pair();
    const controller = new AbortController();
    const ticks: number[] = [];
    const call = client.call('wait', {}, { signal: controller.signal, onChunk: (c) => (ticks.push(c.tick), controller.abort()) });
    await expect(call).resolves.toEqual({ cancelled: true });
    expect(ticks).toEqual([1]);
    // aborted before the call: rejected at once, nothing sent
    await expect(client.call('add', { a: 1, b: 1 }, { signal: controller.signal })).rejects.toMatchObject({ code: 'cancelled' });
    // leaving a stream's loop early cancels its call
    const s = client.stream('wait', {});
    for await (const c of s) {
      expect(c.tick).toBe(1);
      break;
    }
    await expect(s.result).resolves.toEqual({ cancelled: true });
  });

  it('rejects an invalid request with the method and the issue, on either side', async () => {
    const client = pair();
    // the caller checks before sending
    await expect(client.call('add', { a: 1, b: 'two' } as never)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/'add'.*b: /) });
    // and the handler's side checks what arrives (a caller with a looser contract)
    const channel = new MessageChannel();
    channels.push(channel);
    serveRpc(messagePort(channel.port2), TestContract, testHandlers);
    const loose = createRpcClient(messagePort(channel.port1), { add: { params: z.unknown(), result: z.unknown() }, nope: { params: z.unknown(), result: z.unknown() } });
    await expect(loose.call('add', { a: 1 })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/Invalid parameters for 'add' \(b: /) });
    await expect(loose.call('nope', {})).rejects.toMatchObject({ code: 'unknown_method' });
    // a result the handler returns against the contract is not sent as a result
    await expect(client.call('wrongResult', {})).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/result of 'wrongResult' failed validation \(ok: /) });
  });

  it('rejects the call a forged, invalid reply names, with the method and the zod issue; a message naming nothing is reported', async () => {
    const channel = new MessageChannel();
    channels.push(channel);
    const invalid: string[] = [];
    const client = createRpcClient(messagePort(channel.port1), TestContract, { peer: 'the model worker', onInvalid: (e) => invalid.push(e.message) });
    // a forger on the other end answers each call wrongly, by kind
    const forged: Record<string, (id: number) => unknown> = {
      add: (id) => ({ rpc: 'result', id, result: { sum: 'five' } }),
      count: (id) => ({ rpc: 'chunk', id, chunk: { label: 3 } }),
      wait: (id) => ({ rpc: 'what', id }),
      fail: (id) => ({ rpc: 'error', id, error: { code: 'no such code', message: 'x' } }),
    };
    channel.port2.on('message', (m: RpcEnvelope) => {
      if (m.rpc !== 'call') return;
      channel.port2.postMessage({ nothing: 'named' });
      channel.port2.postMessage(forged[m.method]!(m.id));
    });
    await expect(client.call('add', { a: 1, b: 2 })).rejects.toMatchObject({ code: 'internal', message: "The model worker sent a malformed reply to 'add' (sum: Invalid input: expected number, received string)." });
    await expect(client.call('count', { label: 'a', n: 1, delayMs: 0 })).rejects.toThrow(/malformed chunk to 'count' \(label: /);
    await expect(client.call('wait', {})).rejects.toThrow(/malformed reply to 'wait' \(rpc: /);
    await expect(client.call('fail', { code: 'conflict' })).rejects.toThrow(/malformed reply to 'fail' \(error\.code: /);
    expect(invalid.length).toBe(4);
    expect(invalid[0]).toMatch(/The model worker sent a malformed '\?' message/);
    expect(client.waiting).toBe(0);
  });

  it('rejects every waiting call when the port closes', async () => {
    const channel = new MessageChannel();
    channels.push(channel);
    serveRpc(messagePort(channel.port2), TestContract, testHandlers);
    const client = createRpcClient(messagePort(channel.port1), TestContract, { peer: 'the model worker' });
    const waiting = [client.call('wait', {}), client.call('wait', {})];
    await new Promise((r) => setTimeout(r, 20));
    channel.port2.close();
    for (const w of waiting) await expect(w).rejects.toMatchObject({ code: 'unavailable', message: 'The model worker stopped (the channel closed).' });
    await expect(client.call('add', { a: 1, b: 1 })).rejects.toThrow(/stopped/);
    // close(error) settles with the caller's own error
    const c2 = pair();
    const w2 = c2.call('wait', {});
    c2.close(new ApiError('unavailable', 'The model changed.'));
    await expect(w2).rejects.toThrow('The model changed.');
  });

  it('rejects every waiting call when a real worker exits, and works across a real worker', async () => {
    const worker = spawnWorker(import.meta.url, './worker', {});
    const client = createRpcClient(workerPort(worker), TestContract, { peer: 'the test worker' });
    const ticks: number[] = [];
    await expect(client.call('count', { label: 'w', n: 3, delayMs: 1 }, { onChunk: (c) => ticks.push(c.i) })).resolves.toEqual({ emitted: 3 });
    expect(ticks).toEqual([0, 1, 2]);
    const waiting = client.call('wait', {});
    await worker.terminate();
    await expect(waiting).rejects.toMatchObject({ code: 'unavailable', message: 'The test worker stopped (exit code 1).' });

    const dying = spawnWorker(import.meta.url, './worker', { exitOnCall: true });
    const c2 = createRpcClient(workerPort(dying), TestContract, { peer: 'the test worker' });
    await expect(Promise.all([c2.call('wait', {}), c2.call('wait', {})])).rejects.toThrow('The test worker stopped (exit code 3).');
    expect(c2.waiting).toBe(0);
  });
});
