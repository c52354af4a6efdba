// Upload limits: how many may be open, how many bytes they may announce, how long one may sit
// idle, free disk space, and the sweep of upload folders left by a host that crashed.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { MAX_FILE_BYTES } from '../../../core/ingest/limits.js';
import {
  MAX_OPEN_UPLOAD_BYTES,
  MAX_OPEN_UPLOADS,
  STALE_UPLOAD_DIR_MS,
  UPLOAD_DISK_MARGIN_BYTES,
  UPLOAD_IDLE_MS,
  Uploads,
  type UploadsOptions,
} from '../../../core/library/uploads.js';
import { tempDir } from '../../fixtures/texts.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
let root: string;
let dir: string;
const made: Uploads[] = [];

beforeEach(() => {
  root = tempDir();
  dir = path.join(root, 'uploads', String(process.pid));
});
afterEach(() => {
  for (const u of made.splice(0)) u.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function uploads(opts: UploadsOptions = {}): Uploads {
  const u = new Uploads(dir, { freeBytes: () => 1024 * GiB, timer: false, ...opts });
  made.push(u);
  return u;
}

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a refusal');
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('upload limits', () => {
  it('names its limits', () => {
    expect(MAX_OPEN_UPLOADS).toBe(1000);
    expect(MAX_OPEN_UPLOAD_BYTES).toBe(8 * GiB);
    expect(UPLOAD_IDLE_MS).toBe(15 * 60 * 1000);
    expect(UPLOAD_DISK_MARGIN_BYTES).toBe(256 * MiB);
    expect(STALE_UPLOAD_DIR_MS).toBe(24 * 60 * 60 * 1000);
  });

  it(`refuses more than ${MAX_OPEN_UPLOADS} open uploads, and accepts again once one is done`, () => {
    const u = uploads();
    const ids: string[] = [];
    for (let i = 0; i < MAX_OPEN_UPLOADS; i++) ids.push(u.begin(`f${i}.txt`, 1));
    const e = refusal(() => u.begin('one-more.txt', 1));
    expect(e.code).toBe('conflict');
    expect(e.message).toBe(`Cannot start sending one-more.txt: ${MAX_OPEN_UPLOADS} uploads are already open, the most at once.`);
    expect(e.hint).toMatch(/Wait for the files being sent to finish, or cancel some/);
    u.abort(ids[0]!);
    expect(() => u.begin('one-more.txt', 1)).not.toThrow();
    expect(u.open).toBe(MAX_OPEN_UPLOADS);
  });

  it(`refuses uploads that together announce more than ${MAX_OPEN_UPLOAD_BYTES / GiB} GiB`, () => {
    const u = uploads();
    const a = u.begin('a.txt', MAX_FILE_BYTES);
    u.begin('b.txt', MAX_OPEN_UPLOAD_BYTES - MAX_FILE_BYTES); // exactly at the limit
    const e = refusal(() => u.begin('c.txt', 1));
    expect(e.code).toBe('too_large');
    expect(e.message).toBe('Cannot start sending c.txt (0.0 GiB): with the 8.0 GiB already being sent it would pass the 8 GiB limit for uploads in progress.');
    expect(e.hint).toBe('Wait for the current uploads to finish, or send fewer files at once.');
    u.abort(a);
    expect(() => u.begin('c.txt', 1)).not.toThrow();
    // the per-file limit still applies first
    expect(refusal(() => u.begin('huge.txt', MAX_FILE_BYTES + 1)).message).toMatch(/larger than the 4 GiB limit/);
  });

  it('refuses an upload the disk cannot hold, counting what open uploads still have to send', () => {
    let free = 1 * GiB;
    const u = uploads({ freeBytes: () => free });
    const e = refusal(() => u.begin('big.epub', 900 * MiB));
    expect(e.code).toBe('too_large');
    expect(e.message).toBe('Not enough free disk space to receive big.epub: it needs 0.9 GiB plus 256 MiB to spare, and 1.0 GiB is free.');
    expect(e.hint).toBe(`Free some space on the disk that holds the library (${root}), then try again.`);
    u.begin('fits.epub', 700 * MiB);
    const second = refusal(() => u.begin('second.epub', 100 * MiB));
    expect(second.message).toMatch(/and uploads in progress 0\.7 GiB more/);
    free = 2 * GiB;
    expect(() => u.begin('second.epub', 100 * MiB)).not.toThrow();
    // where free space cannot be told, the check is skipped
    expect(() => uploads({ freeBytes: () => null }).begin('x.txt', 10)).not.toThrow();
  });

  it('measures free space with fs.statfsSync by default', () => {
    const spy = vi.spyOn(fs, 'statfsSync').mockReturnValue({ bavail: 1000, bsize: 4096 } as unknown as fs.StatsFs);
    try {
      const u = new Uploads(dir, { timer: false });
      made.push(u);
      const e = refusal(() => u.begin('x.txt', 10));
      expect(e.message).toMatch(/^Not enough free disk space to receive x\.txt/);
      expect(spy).toHaveBeenCalledWith(dir);
    } finally {
      spy.mockRestore();
    }
  });

  it(`deletes an unfinished upload after ${UPLOAD_IDLE_MS / 60000} idle minutes, with a clear message`, () => {
    let now = 1_000_000;
    const u = uploads({ now: () => now });
    const id = u.begin('slow.txt', 10);
    u.chunk(id, 0, b64('hello'));
    now += UPLOAD_IDLE_MS; // exactly at the limit: still there
    expect(u.chunk(id, 5, b64('wo'))).toBe(7);
    const file = path.join(dir, id);
    expect(fs.existsSync(file)).toBe(true);
    now += UPLOAD_IDLE_MS + 1;
    const e = refusal(() => u.chunk(id, 7, b64('rld')));
    expect(e.code).toBe('not_found');
    expect(e.message).toBe('This upload expired: nothing was sent for 15 minutes, so its data was deleted.');
    expect(e.hint).toBe('Send the file again.');
    expect(fs.existsSync(file)).toBe(false);
    expect(u.open).toBe(0);
  });

  it('expires idle uploads without any call, on its timer, and frees their share of the limits', async () => {
    let now = 0;
    const u = uploads({ now: () => now });
    u.begin('a.txt', MAX_FILE_BYTES);
    u.begin('b.txt', MAX_FILE_BYTES);
    expect(refusal(() => u.begin('c.txt', 1)).code).toBe('too_large');
    now += UPLOAD_IDLE_MS + 1;
    u.expire(); // what the timer calls
    expect(u.open).toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(() => u.begin('c.txt', 1)).not.toThrow();
  });

  it('keeps a finished upload waiting while other uploads move (a fine-tune sends all files first), and one in use always', () => {
    let now = 0;
    const u = uploads({ now: () => now });
    const first = u.begin('first.txt', 2);
    u.chunk(first, 0, b64('ok'));
    const taken = u.begin('taken.txt', 2);
    u.chunk(taken, 0, b64('ok'));
    u.take(taken);
    const second = u.begin('second.txt', 4);
    for (let i = 0; i < 4; i++) {
      now += UPLOAD_IDLE_MS - 1000; // each chunk comes within the limit, the whole takes an hour
      u.chunk(second, i, b64('x'));
    }
    expect(u.take(first).name).toBe('first.txt');
    u.abort(first);
    now += 10 * UPLOAD_IDLE_MS;
    u.expire();
    expect(u.open).toBe(1); // `taken` is in use until its caller aborts it; `second` expired
    expect(fs.existsSync(u.take(taken).file)).toBe(true);
    u.abort(taken);
    expect(u.open).toBe(0);
  });
});

describe('stale upload folders', () => {
  it('removes the folders of hosts that are gone, keeps live ones and anything else', () => {
    const parent = path.dirname(dir);
    const mk = (name: string, file = 'part') => {
      fs.mkdirSync(path.join(parent, name), { recursive: true });
      fs.writeFileSync(path.join(parent, name, file), 'x');
    };
    mk(String(process.pid)); // this process's own earlier run
    mk('4000001'); // dead
    mk('4000002'); // alive
    mk('4000003'); // alive by id, but untouched for longer than STALE_UPLOAD_DIR_MS: the id was reused
    mk('not-a-pid');
    const old = new Date(Date.now() - STALE_UPLOAD_DIR_MS - 60_000);
    fs.utimesSync(path.join(parent, '4000003', 'part'), old, old);
    fs.utimesSync(path.join(parent, '4000003'), old, old);
    uploads({ isAlive: (pid) => pid === 4000002 || pid === 4000003 });
    expect(fs.readdirSync(parent).sort()).toEqual(['4000002', 'not-a-pid']);
  });

  it('uses the real process table by default', () => {
    const parent = path.dirname(dir);
    const impossible = process.platform === 'linux' ? Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1 : 2 ** 31 - 2;
    fs.mkdirSync(path.join(parent, String(process.ppid)), { recursive: true }); // alive: the test runner
    fs.mkdirSync(path.join(parent, String(impossible)), { recursive: true }); // above the highest process id: never alive
    fs.writeFileSync(path.join(parent, String(impossible), 'part'), 'x');
    const u = new Uploads(dir, { timer: false });
    made.push(u);
    const left = fs.readdirSync(parent);
    expect(left).toContain(String(process.ppid));
    expect(left).not.toContain(String(impossible));
  });
});
