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

function request(ws: WebSocket, msg: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (m.type !== 'response') return;
      ws.off('message', onMessage);
      resolve(m);
    };
    ws.on('message', onMessage);
    ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  });
}

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

  it('answers valid requests and rejects invalid ones with a clear error', async () => {
    const ws = await connect(host.token);
    expect(await request(ws, { type: 'request', id: 1, method: 'app.info', params: {} })).toMatchObject({ id: 1, ok: true, result: { transport: 'websocket', features: { importByPath: false } } });
    expect(await request(ws, { type: 'request', id: 2, method: 'library.get', params: { id: -3 } })).toMatchObject({ id: 2, ok: false, error: { code: 'bad_request' } });
    expect(await request(ws, { type: 'request', id: 3, method: 'library.get', params: { id: 99 } })).toMatchObject({ id: 3, ok: false, error: { code: 'not_found' } });
    expect(await request(ws, { type: 'request', id: 4, method: 'fs.readFile', params: {} })).toMatchObject({ id: 4, ok: false, error: { code: 'unknown_method' } });
    expect(await request(ws, 'not json')).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    // the browser may not make the core read arbitrary paths on this machine
    expect(await request(ws, { type: 'request', id: 5, method: 'library.importPath', params: { path: '/etc/passwd' } })).toMatchObject({ id: 5, ok: false, error: { code: 'unavailable' } });
    ws.close();
  });

  it('imports an upload and pushes progress and library events', async () => {
    const ws = await connect(host.token);
    const events: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Record<string, unknown>;
      if (m.type === 'event') events.push(m);
    });
    const text = 'Uploaded over the socket.\n';
    const begin = await request(ws, { type: 'request', id: 1, method: 'upload.begin', params: { name: 'up.txt', size: text.length } });
    const uploadId = (begin.result as { uploadId: string }).uploadId;
    await request(ws, { type: 'request', id: 2, method: 'upload.chunk', params: { uploadId, offset: 0, base64: Buffer.from(text).toString('base64') } });
    const done = await request(ws, { type: 'request', id: 3, method: 'upload.finish', params: { uploadId, jobId: 'job-1' } });
    expect(done).toMatchObject({ ok: true, result: { duplicate: false, document: { title: 'up', chars: text.length } } });
    await new Promise((r) => setTimeout(r, 50));
    expect(events.some((e) => e.event === 'library.changed')).toBe(true);
    expect(events.some((e) => e.event === 'job.progress' && (e.payload as { jobId: string; state: string }).jobId === 'job-1' && (e.payload as { state: string }).state === 'done')).toBe(true);
    ws.close();
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
