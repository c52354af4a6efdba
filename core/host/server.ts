// The browser host: the core's API over a WebSocket on 127.0.0.1, and the renderer as static files.
// It is how the app runs without Electron and how Playwright tests the real UI.
//
// Hostile input must not crash it: any web page that finds the port can send requests (an <img>
// tag is enough). So every handler is wrapped, request targets are parsed defensively, the Host
// header must name this host (DNS rebinding), and bad requests are logged once per kind.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiServer } from '../api/server.js';
import { serveApi } from '../rpc/api-server.js';
import { webSocketPort, type WebSocketLike } from '../rpc/ports.js';
import { contentSecurityPolicy, hostAllowed, newToken, originAllowed, parseTarget, RefusalLog, tokensEqual } from './security.js';
import { serveStatic } from './static-files.js';

export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface HostOptions {
  api: ApiServer;
  rendererDir: string;
  port?: number; // 0 or absent: a free port
  token?: string;
  /** Where refusals and handler failures are reported (once per kind); console.warn by default. */
  log?: (line: string) => void;
}

export interface RunningHost {
  url: string; // the address to open, with the token in the fragment (never sent over HTTP)
  port: number;
  token: string;
  close(): Promise<void>;
}

export async function startHost(opts: HostOptions): Promise<RunningHost> {
  const token = opts.token ?? newToken();
  const refusals = new RefusalLog(opts.log);
  let port = 0;
  const securityHeaders = () => ({
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  });
  const internal = (where: string, e: unknown) => refusals.fail(`internal error in ${where}`, e);

  const handleRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const target = parseTarget(req.url);
    if (!target.ok) {
      refusals.note(target.kind, withoutQuery(req.url));
      res.writeHead(400, { ...securityHeaders(), 'Content-Type': 'text/plain', Connection: 'close' }).end('Bad request');
      return;
    }
    if (!hostAllowed(req.headers.host, port)) {
      refusals.note('wrong Host header', req.headers.host ?? '(none)');
      res.writeHead(421, { ...securityHeaders(), 'Content-Type': 'text/plain', Connection: 'close' }).end('Misdirected request: this host answers only to 127.0.0.1 and localhost.');
      return;
    }
    serveStatic(opts.rendererDir, target.path, req, res, securityHeaders(), (e) => internal('a static file', e));
  };

  const server = http.createServer((req, res) => {
    try {
      handleRequest(req, res);
    } catch (e) {
      internal('a request', e);
      try {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain', Connection: 'close' }).end('Internal error');
        else res.destroy();
      } catch {
        res.destroy();
      }
    }
  });
  // The parser's refusals (raw NUL or other bytes it rejects, headers over the size limit, timeouts).
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? 'unknown';
    if (code !== 'ECONNRESET' && code !== 'EPIPE') refusals.note(`unparseable request (${code})`);
    const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (!socket.writable || busy || code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  const handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string) => {
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    const target = parseTarget(req.url);
    if (!target.ok) {
      refusals.note(`${target.kind} (WebSocket)`, withoutQuery(req.url));
      return refuse('400 Bad Request');
    }
    if (!hostAllowed(req.headers.host, port)) {
      refusals.note('wrong Host header (WebSocket)', req.headers.host ?? '(none)');
      return refuse('421 Misdirected Request');
    }
    if (target.pathname !== '/api') return refuse('404 Not Found');
    if (!originAllowed(req.headers.origin, port)) {
      refusals.note('WebSocket from another origin', req.headers.origin);
      return refuse('403 Forbidden');
    }
    if (!tokensEqual(target.searchParams.get('token'), token)) {
      refusals.note('WebSocket without the right token');
      return refuse('401 Unauthorized');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      try {
        serveClient(ws, opts.api, refusals, (e) => internal('a WebSocket message', e));
      } catch (e) {
        internal('a WebSocket connection', e);
        ws.close(1011, 'Internal error');
      }
    });
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // The HTTP server no longer watches an upgraded socket; an error on it must not go unhandled.
    socket.on('error', () => socket.destroy());
    try {
      handleUpgrade(req, socket, head);
    } catch (e) {
      internal('a WebSocket upgrade', e);
      try {
        if (socket.writable) socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      } finally {
        socket.destroy();
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listening, an error (say EMFILE on accept) is reported, not thrown.
  server.on('error', (e) => internal('the server', e));
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/#token=${token}`,
    port,
    token,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // keep-alive connections (a browser tab) would hold close() for seconds
      await closed;
    },
  };
}

/** The target for the log, without its query (which may hold the token). */
function withoutQuery(url: string | undefined): string {
  return (url ?? '').split('?')[0]!;
}

/** One page's connection: the API over the RPC (core/rpc/api-server.ts), JSON text frames. A
 * malformed message fails the call it names (or is noted once per kind); a handler's unexpected
 * error answers 'internal' and is logged once; a socket error ends that client only. */
function serveClient(ws: WebSocket, api: ApiServer, refusals: RefusalLog, onError: (e: unknown) => void): void {
  const port = webSocketPort(ws as unknown as WebSocketLike);
  const served = serveApi(port, api, {
    onInvalid: (error) => refusals.note('malformed API message', error.message),
    onInternalError: (method, e) => onError(new Error(`${method}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })),
  });
  ws.on('error', () => served.close()); // a reset or a frame over the limit ends that client only
}
