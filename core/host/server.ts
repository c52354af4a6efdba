// The browser host: the core's API over a WebSocket on 127.0.0.1, and the renderer as static files.
// It is how the app runs without Electron and how Playwright tests the real UI.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiServer } from '../api/server.js';
import type { WireEvent } from '../api/wire.js';
import { contentSecurityPolicy, newToken, originAllowed, tokensEqual } from './security.js';
import { serveStatic } from './static-files.js';

export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface HostOptions {
  api: ApiServer;
  rendererDir: string;
  port?: number; // 0 or absent: a free port
  token?: string;
}

export interface RunningHost {
  url: string; // the address to open, with the token in the fragment (never sent over HTTP)
  port: number;
  token: string;
  close(): Promise<void>;
}

export async function startHost(opts: HostOptions): Promise<RunningHost> {
  const token = opts.token ?? newToken();
  let port = 0;
  const securityHeaders = () => ({
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  });

  const server = http.createServer((req, res) => serveStatic(opts.rendererDir, req, res, securityHeaders()));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: string) => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    };
    if (url.pathname !== '/api') return refuse('404 Not Found');
    if (!originAllowed(req.headers.origin, port)) return refuse('403 Forbidden');
    if (!tokensEqual(url.searchParams.get('token'), token)) return refuse('401 Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => serveClient(ws, opts.api));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/#token=${token}`,
    port,
    token,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveClient(ws: WebSocket, api: ApiServer): void {
  const unsubscribe = api.events.subscribe((event, payload) => {
    const msg: WireEvent = { type: 'event', event, payload };
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  });
  ws.on('message', async (data, isBinary) => {
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary');
      raw = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: 'response', id: -1, ok: false, error: { code: 'bad_request', message: 'Messages must be JSON text.' } }));
      return;
    }
    const response = await api.handleWire(raw);
    if (response && ws.readyState === ws.OPEN) ws.send(JSON.stringify(response));
  });
  ws.on('close', unsubscribe);
  ws.on('error', unsubscribe);
}
