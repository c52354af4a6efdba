// Serves the built renderer (dist/renderer) and nothing outside it.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/**
 * Answer a GET or HEAD for `rel`, an already decoded and checked path (see parseTarget: no NUL or
 * control characters). Failures after the check (a file that vanishes or cannot be read) go to
 * `onError` and never escape as an exception or an unhandled stream error.
 */
export function serveStatic(root: string, rel: string, req: http.IncomingMessage, res: http.ServerResponse, headers: Record<string, string>, onError: (e: unknown) => void): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
    return;
  }
  if (rel.endsWith('/')) rel += 'index.html';
  const file = path.resolve(root, '.' + rel);
  if (file !== root && !file.startsWith(root + path.sep)) {
    res.writeHead(403, headers).end('Forbidden');
    return;
  }
  const fail = (e: unknown) => {
    onError(e);
    if (!res.headersSent) res.writeHead(500, { ...headers, 'Content-Type': 'text/plain', Connection: 'close' }).end('Internal error');
    else res.destroy();
  };
  fs.stat(file, (err, stat) => {
    try {
      if (err || !stat.isFile()) {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('Not found');
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, fileHeaders(headers, file, stat.size)).end();
        return;
      }
      const stream = fs.createReadStream(file);
      stream.once('error', fail);
      stream.once('open', () => {
        res.writeHead(200, fileHeaders(headers, file, stat.size));
        stream.pipe(res);
      });
      res.once('close', () => stream.destroy());
    } catch (e) {
      fail(e);
    }
  });
}

function fileHeaders(headers: Record<string, string>, file: string, size: number): Record<string, string> {
  return {
    ...headers,
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(size),
    'Cache-Control': 'no-cache',
  };
}
