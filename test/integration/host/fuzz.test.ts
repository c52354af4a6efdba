// Host fuzz: from a fixed seed, ~200 mutated request lines and headers (byte flips, NULs, cuts,
// repeats, hostile targets and Host headers, oversized fields) against a real host on a real
// port. None may crash it or make a handler fail (5xx); afterwards it serves a normal GET / and
// the API. A failure names its seed: HOST_FUZZ_SEED=<seed> npx vitest run test/integration/host/fuzz.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Core } from '../../../core/app.js';
import type { RunningHost } from '../../../core/host/server.js';
import { startTestHost, stopTestHost } from './test-host.js';
import { raw } from './raw.js';
import { randomSource } from '../../../models/util/random.js';

const SEED = Number(process.env.HOST_FUZZ_SEED ?? 13_2025);
const CASES = 200;
const BUDGET_MS = 8_000;

let dir: string;
let core: Core;
let host: RunningHost;
const logged: string[] = [];

beforeAll(async () => ({ dir, core, host } = await startTestHost(logged)));
afterAll(() => stopTestHost({ dir, core, host }));

const TARGETS = ['http://[', 'http://[::1', '/%00', '/index.html%00.js', '/%', '/%E0%A4%A', '*', '//evil.example/x', '/\\..\\secret.txt', '/..%2f..%2fsecret.txt', '/%2e%2e/secret.txt', '/%c0%ae%c0%ae/secret.txt', '/' + 'a'.repeat(3000), '/?' + '%'.repeat(500), 'http://127.0.0.1/', '/api?token=', '/api?token[]=1&token=2', '/\u00ff\u00fe', '/..', '/app.js/', '/index.html?x=%00'];
const HOSTS = ['evil.example', '', '127.0.0.1', 'localhost', '[::1]', '127.0.0.1:0', 'LOCALHOST:PORT', '127.0.0.1:PORT\u0000', '127.0.0.1:PORT, evil.example', 'x'.repeat(9000)];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PRI', 'G\u0000T', 'GE', 'get', 'X'.repeat(100)];
const EXTRA = ['Transfer-Encoding: chunked\r\n\r\nzz\r\n', 'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Content-Length: 5\r\nContent-Length: 6', 'Upgrade: websocket\r\nConnection: Upgrade', 'Sec-WebSocket-Key: %%%', 'Origin: https://evil.example', 'Origin: null', 'X-Big: ' + 'b'.repeat(20_000), 'Expect: 100-continue', 'Host: evil.example'];

function baseRequests(port: number, token: string): string[] {
  const h = `Host: 127.0.0.1:${port}\r\n`;
  const ws = `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`;
  return [
    `GET / HTTP/1.1\r\n${h}Connection: close\r\n\r\n`,
    `GET /index.html HTTP/1.1\r\n${h}\r\n`,
    `HEAD /app.js HTTP/1.1\r\n${h}Connection: close\r\n\r\n`,
    `GET /api?token=${token} HTTP/1.1\r\n${h}${ws}\r\n`,
    `GET /api?token=${'0'.repeat(64)} HTTP/1.1\r\n${h}${ws}Origin: http://127.0.0.1:${port}\r\n\r\n`,
    `POST / HTTP/1.1\r\n${h}Content-Length: 4\r\nConnection: close\r\n\r\nbody`,
  ];
}

function mutate(next: () => number, req: string, port: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
  const at = (s: string) => Math.floor(next() * (s.length + 1));
  const ops = 1 + Math.floor(next() * 3);
  for (let i = 0; i < ops; i++) {
    switch (Math.floor(next() * 10)) {
      case 0: {
        // flip a byte
        const p = Math.min(at(req), req.length - 1);
        req = req.slice(0, p) + String.fromCharCode(req.charCodeAt(p) ^ (1 << Math.floor(next() * 8))) + req.slice(p + 1);
        break;
      }
      case 1: {
        // insert NUL, CR, LF, a high byte, a space or a percent sign
        const p = at(req);
        req = req.slice(0, p) + pick(['\0', '\r', '\n', '\u00ff', ' ', '%', '\t']) + req.slice(p);
        break;
      }
      case 2:
        req = req.slice(0, at(req)); // cut short
        break;
      case 3: {
        // repeat a slice
        const a = at(req);
        const b = Math.min(req.length, a + 1 + Math.floor(next() * 20));
        req = req.slice(0, b) + req.slice(a, b).repeat(1 + Math.floor(next() * 200)) + req.slice(b);
        break;
      }
      case 4:
        req = req.replace(/^(\S*) \S*/, (_m, method: string) => `${method} ${pick(TARGETS)}`);
        break;
      case 5:
        req = req.replace(/Host: [^\r]*/, `Host: ${pick(HOSTS).replace('PORT', String(port))}`);
        break;
      case 6:
        req = req.replace(/^\S*/, pick(METHODS));
        break;
      case 7:
        req = req.replace('\r\n', `\r\n${pick(EXTRA)}\r\n`);
        break;
      case 8:
        req = req.replace('\r\n', `\r\n${Array.from({ length: 50 + Math.floor(next() * 200) }, (_, k) => `X-H${k}: v`).join('\r\n')}\r\n`);
        break;
      default:
        req = req.replace(/HTTP\/1\.1/, pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', 'HTTP', '']));
    }
  }
  return req;
}

describe('host fuzz', () => {
  it(`survives ${CASES} mutated requests and still answers (seed ${SEED})`, async () => {
    const next = randomSource(SEED);
    const bases = baseRequests(host.port, host.token);
    const cases = Array.from({ length: CASES }, () => mutate(next, bases[Math.floor(next() * bases.length)]!, host.port));
    const failures: string[] = [];
    const started = Date.now();
    let sent = 0;
    const worker = async () => {
      while (sent < cases.length && Date.now() - started < BUDGET_MS) {
        const i = sent++;
        const r = await raw(host.port, Buffer.from(cases[i]!, 'latin1'), 300);
        if (r.status !== null && r.status >= 500) failures.push(`case ${i}: ${r.status} for ${JSON.stringify(cases[i]!.slice(0, 200))}`);
        if (r.text.includes('outside the renderer')) failures.push(`case ${i}: served a file outside the renderer for ${JSON.stringify(cases[i]!.slice(0, 200))}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const hint = `seed ${SEED} (rerun with HOST_FUZZ_SEED=${SEED})`;
    expect(failures, hint).toEqual([]);
    expect(sent, hint).toBeGreaterThanOrEqual(Math.min(CASES, 50));

    // still up: the page and the API
    const res = await fetch(`http://127.0.0.1:${host.port}/`);
    expect(res.status, hint).toBe(200);
    await res.text();
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/api?token=${host.token}`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const info = await new Promise<Record<string, unknown>>((resolve) => {
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (m.rpc === 'result' || m.rpc === 'error') resolve(m);
      });
      ws.send(JSON.stringify({ rpc: 'call', id: 1, method: 'app.info', params: {} }));
    });
    expect(info, hint).toMatchObject({ rpc: 'result', id: 1 });
    ws.close();
    // logged once per kind, not once per request
    expect(logged.length, `${hint}\n${logged.join('\n')}`).toBeLessThan(40);
  });
});
