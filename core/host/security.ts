// The browser host's guards: a per-run token, loopback-only origins and Host headers, defensive
// parsing of request targets, a strict CSP, and a log that reports each kind of refusal once.
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The longest request target (path and query) the host reads; a longer one gets 400. */
export const MAX_TARGET_BYTES = 2048;

export function newToken(): string {
  return randomBytes(32).toString('hex');
}

export function tokensEqual(given: string | null, expected: string): boolean {
  if (!given || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** Only pages served by this host may open the WebSocket (blocks cross-site WebSocket hijacking). */
export function originAllowed(origin: string | undefined, port: number): boolean {
  if (!origin) return true; // not a browser (CLI tools, tests); the token still applies
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

/**
 * The Host header must name this host exactly (blocks DNS rebinding: a page on evil.example whose
 * name now resolves to 127.0.0.1 sends `Host: evil.example:PORT`). Host names are case-insensitive.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (typeof host !== 'string') return false;
  const h = host.toLowerCase();
  return h === `127.0.0.1:${port}` || h === `localhost:${port}`;
}

export type Target = { ok: true; pathname: string; path: string; searchParams: URLSearchParams } | { ok: false; kind: string };

/**
 * Parse a request target without trusting it: only origin form (`/path?query`), at most
 * MAX_TARGET_BYTES, no NUL or other control character raw or percent-encoded, valid encoding.
 * `pathname` is as sent (still encoded), `path` is decoded. Never throws.
 */
export function parseTarget(raw: string | undefined): Target {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, kind: 'missing target' };
  if (Buffer.byteLength(raw, 'utf8') > MAX_TARGET_BYTES) return { ok: false, kind: `target over ${MAX_TARGET_BYTES} bytes` };
  if (/[\x00-\x20\x7f]/.test(raw)) return { ok: false, kind: 'control character in target' };
  // Encoded too, anywhere (before URL parsing normalizes `/%00/..` away): the app never sends one.
  if (/%(?:[01][0-9a-f]|7f)/i.test(raw)) return { ok: false, kind: 'control character in target' };
  if (!raw.startsWith('/')) return { ok: false, kind: 'target not in origin form' };
  let url: URL;
  try {
    // Prefixed, not resolved against a base: `//evil/x` and `/\evil` stay paths on this host.
    url = new URL(`http://127.0.0.1${raw}`);
  } catch {
    return { ok: false, kind: 'malformed target' };
  }
  if (url.host !== '127.0.0.1') return { ok: false, kind: 'malformed target' };
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, kind: 'bad percent-encoding in target' };
  }
  if (/[\x00-\x1f\x7f]/.test(path)) return { ok: false, kind: 'control character in target' };
  return { ok: true, pathname: url.pathname, path, searchParams: url.searchParams };
}

/**
 * Reports each kind of refused or failed request once, then only a running count at 100, 1000,
 * 10000, ... so a flood of bad requests cannot flood the log.
 */
export class RefusalLog {
  private readonly counts = new Map<string, number>();
  private static readonly MAX_KINDS = 256;

  constructor(private readonly write: (line: string) => void = (line) => console.warn(line)) {}

  /** A request refused as bad (kind: what was wrong; detail: an excerpt of it). */
  note(kind: string, detail?: string): void {
    this.record(kind, `refused a request (${kind})${detail ? `: ${printable(detail)}` : ''}`);
  }

  /** A request that failed inside the host: reported with its stack, once per place. */
  fail(kind: string, error: unknown): void {
    this.record(kind, `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }

  private record(kind: string, first: string): void {
    if (!this.counts.has(kind) && this.counts.size >= RefusalLog.MAX_KINDS) {
      kind = 'other';
      first = 'refused a request (other)';
    }
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n === 1) this.write(`Titans Reader host: ${first}. Further ones of this kind are counted, not logged.`);
    else if (n >= 100 && /^10+$/.test(String(n))) this.write(`Titans Reader host: ${n} so far (${kind}).`);
  }

  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }
}

/** A short, single-line, escaped excerpt of untrusted text for the log. */
export function printable(s: string, max = 120): string {
  const cut = s.length > max ? s.slice(0, max) + '…' : s;
  return JSON.stringify(cut);
}

export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src ws://127.0.0.1:${port} ws://localhost:${port}`,
    "worker-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
