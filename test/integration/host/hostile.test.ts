// The browser host under hostile requests, over raw sockets: a NUL, a malformed or overlong
// target, a foreign Host header, a handler that throws. None may crash it; each gets a 4xx/5xx,
// is logged once per kind, and the host answers normally afterwards.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { ApiServer } from '../../../core/api/server.js';
import type { Core } from '../../../core/app.js';
import { MAX_TARGET_BYTES, parseTarget } from '../../../core/host/security.js';
import { startHost, type RunningHost } from '../../../core/host/server.js';
import { startTestHost, stopTestHost } from './test-host.js';
import { raw } from './raw.js';

let dir: string;
let core: Core;
let host: RunningHost;
const logged: string[] = [];

beforeAll(async () => ({ dir, core, host } = await startTestHost(logged)));
afterAll(() => stopTestHost({ dir, core, host }));

const hostHeader = () => `127.0.0.1:${host.port}`;
const get = (target: string, headers = `Host: ${hostHeader()}\r\n`) => `GET ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`;
const upgrade = (target: string, hostValue = hostHeader()) =>
  `GET ${target} HTTP/1.1\r\nHost: ${hostValue}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

async function stillServes(): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${host.port}/`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('<title>t</title>');
}

describe('host under hostile requests', () => {
  it('answers a NUL in the target, percent-encoded or raw, with 400 and keeps running', async () => {
    for (const target of ['/%00', '/index.html%00.js', '/%00/../index.html', '/app.js%00']) {
      expect((await raw(host.port, get(target))).status, target).toBe(400);
    }
    expect((await raw(host.port, Buffer.from(`GET /\0 HTTP/1.1\r\nHost: ${hostHeader()}\r\n\r\n`, 'latin1'))).status).toBe(400);
    expect((await raw(host.port, upgrade('/api%00?token=x'))).status).toBe(400);
    await stillServes();
  });

  it('answers a malformed target, plain or as a WebSocket upgrade, with 400', async () => {
    for (const target of ['http://[', 'http://[::1', '*', 'http://127.0.0.1:1/', 'index.html', '/%E0%A4%A', '/%']) {
      expect((await raw(host.port, get(target))).status, target).toBe(400);
    }
    for (const target of ['http://[', `http://[/api?token=${'0'.repeat(64)}`, '/api%']) {
      expect((await raw(host.port, upgrade(target))).status, target).toBe(400);
    }
    await stillServes();
  });

  it(`answers a target over ${MAX_TARGET_BYTES} bytes with 400, and an oversized header with 431`, async () => {
    expect((await raw(host.port, get('/' + 'a'.repeat(MAX_TARGET_BYTES)))).status).toBe(400);
    expect((await raw(host.port, get('/?' + 'q'.repeat(MAX_TARGET_BYTES)))).status).toBe(400);
    expect((await raw(host.port, upgrade('/api?token=' + 'a'.repeat(MAX_TARGET_BYTES)))).status).toBe(400);
    expect((await raw(host.port, get('/', `Host: ${hostHeader()}\r\nX-Big: ${'b'.repeat(20_000)}\r\n`))).status).toBe(431);
    expect((await raw(host.port, get('/' + 'a'.repeat(MAX_TARGET_BYTES - 1)))).status).toBe(404); // just under: an ordinary miss
    await stillServes();
  });

  it('serves static files only to Host 127.0.0.1:PORT or localhost:PORT (DNS rebinding)', async () => {
    expect((await raw(host.port, get('/', `Host: ${hostHeader()}\r\n`))).status).toBe(200);
    expect((await raw(host.port, get('/', `Host: localhost:${host.port}\r\n`))).status).toBe(200);
    expect((await raw(host.port, get('/', `Host: LocalHost:${host.port}\r\n`))).status).toBe(200);
    for (const h of [`evil.example:${host.port}`, 'evil.example', '127.0.0.1', `127.0.0.1:${host.port + 1}`, `127.0.0.1:${host.port}.evil.example`, `[::1]:${host.port}`]) {
      const r = await raw(host.port, get('/', `Host: ${h}\r\n`));
      expect(r.status, h).toBe(421);
      expect(r.text).not.toContain('<title>t</title>');
    }
    // HTTP/1.0 without a Host header: refused too
    expect((await raw(host.port, 'GET / HTTP/1.0\r\n\r\n')).status).toBe(421);
  });

  it('refuses a WebSocket upgrade with a foreign Host header even with the right token', async () => {
    expect((await raw(host.port, upgrade(`/api?token=${host.token}`, `evil.example:${host.port}`))).status).toBe(421);
    expect((await raw(host.port, upgrade(`/api?token=${host.token}`, `localhost:${host.port}`))).status).toBe(101);
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/api?token=${host.token}`, { headers: { Host: `rebound.example:${host.port}` } });
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    expect(status).toBe(421);
    ws.terminate();
  });

  it('logs each kind of bad request once, not once per request', async () => {
    const before = logged.length;
    await Promise.all(Array.from({ length: 40 }, () => raw(host.port, get('/%00'))));
    await Promise.all(Array.from({ length: 40 }, () => raw(host.port, get('/', 'Host: evil.example\r\n'))));
    const added = logged.slice(before);
    // both kinds were already logged by the tests above (or, run alone, now: at most once each)
    expect(added.length).toBeLessThanOrEqual(2);
    expect(logged.filter((l) => l.includes('(control character in target)')).length).toBe(1);
    expect(logged.filter((l) => l.includes('(wrong Host header)')).length).toBe(1);
    expect((await raw(host.port, upgrade(`/api%00?token=${host.token}`))).status).toBe(400);
    for (const l of logged) {
      expect(l).not.toMatch(/[\0\r\n]/); // untrusted text is escaped
      expect(l).not.toContain(host.token); // the query is left out
    }
  });
});

describe('host handlers that fail', () => {
  function fakeApi(overrides: { subscribe?: () => () => void; run?: () => Promise<unknown> }): ApiServer {
    return {
      events: { subscribe: overrides.subscribe ?? (() => () => {}) },
      run: overrides.run ?? (async () => []),
    } as unknown as ApiServer;
  }

  it('a subscription that throws answers that call an internal error, logged; the socket and the host keep serving', async () => {
    const lines: string[] = [];
    const h = await startHost({
      api: fakeApi({
        subscribe: () => {
          throw new Error('subscribe exploded');
        },
      }),
      rendererDir: path.join(dir, 'renderer'),
      log: (l) => lines.push(l),
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}/api?token=${h.token}`);
      await new Promise((r) => ws.once('open', r));
      const answers: Array<Record<string, unknown>> = [];
      ws.on('message', (d) => answers.push(JSON.parse(d.toString()) as Record<string, unknown>));
      ws.send(JSON.stringify({ rpc: 'call', id: 1, method: 'events.subscribe', params: {} }));
      ws.send(JSON.stringify({ rpc: 'call', id: 2, method: 'library.list', params: {} }));
      await expect.poll(() => answers.length).toBe(2);
      expect(answers.find((a) => a.id === 1)).toMatchObject({ rpc: 'error', error: { code: 'internal' } });
      expect(answers.find((a) => a.id === 2)).toMatchObject({ rpc: 'result', result: [] });
      expect(lines.some((l) => l.includes('subscribe exploded'))).toBe(true);
      expect((await fetch(`http://127.0.0.1:${h.port}/`)).status).toBe(200);
      ws.close();
    } finally {
      await h.close();
    }
  });

  it('a request handler that rejects answers an internal error, logged once', async () => {
    const lines: string[] = [];
    const h = await startHost({
      api: fakeApi({ run: () => Promise.reject(new Error('handler exploded')) }),
      rendererDir: path.join(dir, 'renderer'),
      log: (l) => lines.push(l),
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}/api?token=${h.token}`);
      await new Promise((r) => ws.once('open', r));
      const answers: Array<Record<string, unknown>> = [];
      ws.on('message', (d) => answers.push(JSON.parse(d.toString()) as Record<string, unknown>));
      for (let id = 1; id <= 3; id++) ws.send(JSON.stringify({ rpc: 'call', id, method: 'app.info', params: {} }));
      await expect.poll(() => answers.length).toBe(3);
      expect(answers[0]).toMatchObject({ rpc: 'error', id: 1, error: { code: 'internal' } });
      expect(lines.filter((l) => l.includes('handler exploded')).length).toBe(1);
      ws.close();
    } finally {
      await h.close();
    }
  });

  it('a file that cannot be read answers 500 without crashing', async () => {
    // chmod 0 does not stop root (CI runs as root): make the read itself fail instead
    const spy = vi.spyOn(fs, 'createReadStream').mockImplementationOnce(() => {
      const stream = new Readable({ read() {} });
      queueMicrotask(() => stream.destroy(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })));
      return stream as unknown as fs.ReadStream;
    });
    try {
      const r = await raw(host.port, get('/app.js'));
      expect(spy).toHaveBeenCalled();
      expect(r.status).toBe(500);
      await stillServes();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('parseTarget', () => {
  it('keeps paths on this host and decodes them', () => {
    expect(parseTarget('/a%20b?x=1')).toMatchObject({ ok: true, pathname: '/a%20b', path: '/a b' });
    expect(parseTarget('//evil.example/x')).toMatchObject({ ok: true, path: '//evil.example/x' });
    expect(parseTarget('/\\evil.example/x')).toMatchObject({ ok: true });
    expect(parseTarget('/a/../../b')).toMatchObject({ ok: true, path: '/b' });
    for (const bad of [undefined, '', 'http://[', '/%00', '/a\0', '/%0a', '/%', 'x', '/' + 'a'.repeat(MAX_TARGET_BYTES)]) expect(parseTarget(bad).ok, String(bad)).toBe(false);
  });
});
