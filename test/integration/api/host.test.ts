// The browser host over a real socket: the token, the origin check, validation, events, static files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Core } from '../../../core/app.js';
import type { RunningHost } from '../../../core/host/server.js';
import { startTestHost, stopTestHost } from '../host/test-host.js';

let dir: string;
let core: Core;
let host: RunningHost;

beforeAll(async () => ({ dir, core, host } = await startTestHost()));
afterAll(() => stopTestHost({ dir, core, host }));

function connect(token: string | null, origin?: string): Promise<WebSocket> {
  const url = `ws://127.0.0.1:${host.port}/api${token === null ? '' : `?token=${token}`}`;
  const ws = new WebSocket(url, origin ? { origin } : {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(String(res.statusCode))));
    ws.once('error', reject);
  });
}

/** One RPC call sent raw ({rpc:'call'}, core/rpc/rpc.ts), and its reply ({rpc:'result' | 'error'}); the chunks it streamed before. */
function request(ws: WebSocket, msg: unknown): Promise<Record<string, unknown> & { chunks: unknown[] }> {
  const id = typeof msg === 'object' && msg !== null ? (msg as { id?: number }).id : undefined;
  return new Promise((resolve) => {
    const chunks: unknown[] = [];
    const onMessage = (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (m.id !== id) return;
      if (m.rpc === 'chunk') return void chunks.push(m.chunk);
      if (m.rpc !== 'result' && m.rpc !== 'error') return;
      ws.off('message', onMessage);
      resolve({ ...m, chunks });
    };
    ws.on('message', onMessage);
    ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  });
}
const call = (id: number, method: string, params: unknown) => ({ rpc: 'call', id, method, params });

describe('browser host', () => {
  it('listens on loopback only and puts the token in the URL fragment', () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
  });

  it('refuses a WebSocket without the token, with a wrong token, or from another origin', async () => {
    await expect(connect(null)).rejects.toThrow('401');
    await expect(connect('0'.repeat(64))).rejects.toThrow('401');
    await expect(connect(host.token, 'https://evil.example')).rejects.toThrow('403');
    const ws = await connect(host.token, `http://127.0.0.1:${host.port}`);
    ws.close();
  });

  it('answers valid calls and rejects invalid ones with a clear error', async () => {
    const ws = await connect(host.token);
    expect(await request(ws, call(1, 'app.info', {}))).toMatchObject({ rpc: 'result', id: 1, result: { transport: 'websocket', features: { importByPath: false } } });
    expect(await request(ws, call(2, 'library.get', { id: -3 }))).toMatchObject({ rpc: 'error', id: 2, error: { code: 'bad_request' } });
    expect(await request(ws, call(3, 'library.get', { id: 99 }))).toMatchObject({ rpc: 'error', id: 3, error: { code: 'not_found' } });
    expect(await request(ws, call(4, 'fs.readFile', {}))).toMatchObject({ rpc: 'error', id: 4, error: { code: 'unknown_method' } });
    // a malformed call that names its id is answered; one that names none (not JSON) is noted, and the socket goes on
    expect(await request(ws, { rpc: 'call', id: 6, method: 7 })).toMatchObject({ rpc: 'error', id: 6, error: { code: 'bad_request' } });
    ws.send('not json');
    // the browser may not make the core read arbitrary paths on this machine
    expect(await request(ws, call(5, 'library.importPath', { path: '/etc/passwd' }))).toMatchObject({ rpc: 'error', id: 5, error: { code: 'unavailable' } });
    ws.close();
  });

  it('imports an upload, pushes progress and library events to subscribers, and streams an answer to its caller only', async () => {
    const ws = await connect(host.token);
    const other = await connect(host.token);
    const events: Array<Record<string, unknown>> = [];
    const seenByOther: unknown[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Record<string, unknown>;
      if (m.rpc === 'chunk' && m.id === 100) events.push(m.chunk as Record<string, unknown>);
    });
    other.on('message', (d) => seenByOther.push(JSON.parse(d.toString())));
    ws.send(JSON.stringify(call(100, 'events.subscribe', {})));
    other.send(JSON.stringify(call(1, 'events.subscribe', {})));
    await new Promise((r) => setTimeout(r, 50));
    const text = 'Uploaded over the socket, where the lantern keeper waits.\n';
    const begin = await request(ws, call(1, 'upload.begin', { name: 'up.txt', size: Buffer.byteLength(text) }));
    const uploadId = (begin.result as { uploadId: string }).uploadId;
    await request(ws, call(2, 'upload.chunk', { uploadId, offset: 0, base64: Buffer.from(text).toString('base64') }));
    const done = await request(ws, call(3, 'upload.finish', { uploadId, jobId: 'job-1' }));
    expect(done).toMatchObject({ rpc: 'result', result: { duplicate: false, document: { title: 'up', chars: text.length } } });
    await new Promise((r) => setTimeout(r, 50));
    expect(events.some((e) => e.event === 'library.changed')).toBe(true);
    expect(events.some((e) => e.event === 'job.progress' && (e.payload as { jobId: string; state: string }).jobId === 'job-1' && (e.payload as { state: string }).state === 'done')).toBe(true);
    // a question's passages and sentences stream as chunks of its own call, not to the other page
    const asked = await request(ws, call(4, 'ask.answer', { question: 'Where does the lantern keeper wait?', modelAnswer: false }));
    expect(asked).toMatchObject({ rpc: 'result', result: { notFound: false } });
    expect(asked.chunks.map((c) => (c as { kind: string }).kind)).toEqual(['found', 'sentences']);
    expect(seenByOther.filter((m) => (m as { rpc: string; chunk?: { event?: string } }).rpc === 'chunk').every((m) => (m as { chunk: { event?: string } }).chunk.event !== undefined)).toBe(true);
    expect(seenByOther.some((m) => JSON.stringify(m).includes('lantern keeper waits'))).toBe(false);
    ws.close();
    other.close();
  });


  it('serves the renderer with a CSP and nothing outside its folder', async () => {
    const res = await fetch(`http://127.0.0.1:${host.port}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).toContain(`connect-src ws://127.0.0.1:${host.port}`);
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const r = await fetch(`http://127.0.0.1:${host.port}${p}`);
      expect([403, 404]).toContain(r.status);
      expect(await r.text()).not.toContain('outside the renderer');
    }
  });
});
