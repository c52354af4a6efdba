// Files sent by the UI in chunks (browser host drag and drop), spooled to a temporary file so
// even a very large upload never sits in memory.
//
// Uploads are bounded: how many may be open, how many bytes they may announce together, how long
// one may sit idle, and that the disk can hold what is announced. A host that crashed leaves its
// folder (uploads/<pid>) behind; the next start removes it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { emptyFile, fileTooLarge, MAX_FILE_BYTES } from '../ingest/limits.js';

/** Uploads open at once (begun, not yet finished or aborted). Matches finetune.start's 1000 uploadIds. */
export const MAX_OPEN_UPLOADS = 1000;
/** Bytes announced by all open uploads together. */
export const MAX_OPEN_UPLOAD_BYTES = 8 * 1024 ** 3;
/** An unfinished upload with no chunk for this long, or a finished one unused while no upload moves, is deleted. */
export const UPLOAD_IDLE_MS = 15 * 60 * 1000;
/** Free disk space kept beyond what open uploads announce (for the library, the import, the OS). */
export const UPLOAD_DISK_MARGIN_BYTES = 256 * 1024 ** 2;
/** Another process's upload folder untouched this long is removed even if its process id is alive (ids are reused). */
export const STALE_UPLOAD_DIR_MS = 24 * 60 * 60 * 1000;
/** How often idle uploads are looked for between calls (an unref'd timer; calls also check). */
const EXPIRY_CHECK_MS = 60 * 1000;
/** How many expired upload ids are remembered, to say "expired" rather than "unknown". */
const REMEMBERED_EXPIRED = 1024;

export interface UploadsOptions {
  now?: () => number;
  /** Free bytes on the disk holding `dir`; null where it cannot be told. Defaults to fs.statfsSync. */
  freeBytes?: (dir: string) => number | null;
  /** Whether a process id is alive (for the stale folder sweep). */
  isAlive?: (pid: number) => boolean;
  /** Look for idle uploads on a timer too (default true). */
  timer?: boolean;
}

interface Upload {
  name: string;
  size: number;
  file: string;
  received: number;
  lastActive: number;
  taken: boolean; // handed to finish or take: in use until aborted
}

export class Uploads {
  private readonly uploads = new Map<string, Upload>();
  private readonly expired = new Set<string>();
  private readonly now: () => number;
  private readonly freeBytes: (dir: string) => number | null;
  private lastActivity: number;
  private readonly timer: NodeJS.Timeout | null;

  constructor(
    private readonly dir: string,
    opts: UploadsOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.freeBytes = opts.freeBytes ?? statfsFreeBytes;
    this.lastActivity = this.now();
    fs.rmSync(dir, { recursive: true, force: true }); // leftovers of an earlier run with this pid
    sweepStaleUploadDirs(path.dirname(dir), path.basename(dir), opts.isAlive ?? pidAlive, this.now());
    this.timer = opts.timer === false ? null : setInterval(() => this.expire(), EXPIRY_CHECK_MS);
    this.timer?.unref();
  }

  begin(name: string, size: number): string {
    this.expire();
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
    if (size === 0) throw emptyFile(name);
    if (size > MAX_FILE_BYTES) throw fileTooLarge(name, size, MAX_FILE_BYTES);
    if (this.uploads.size >= MAX_OPEN_UPLOADS) {
      throw new ApiError('conflict', `Cannot start sending ${name}: ${MAX_OPEN_UPLOADS} uploads are already open, the most at once.`, 'Wait for the files being sent to finish, or cancel some, then try again.');
    }
    const announced = [...this.uploads.values()].reduce((sum, u) => sum + u.size, 0);
    if (announced + size > MAX_OPEN_UPLOAD_BYTES) {
      throw new ApiError(
        'too_large',
        `Cannot start sending ${name} (${gib(size)}): with the ${gib(announced)} already being sent it would pass the ${MAX_OPEN_UPLOAD_BYTES / 1024 ** 3} GiB limit for uploads in progress.`,
        'Wait for the current uploads to finish, or send fewer files at once.',
      );
    }
    fs.mkdirSync(this.dir, { recursive: true });
    const free = this.freeBytes(this.dir);
    const pending = [...this.uploads.values()].reduce((sum, u) => sum + (u.size - u.received), 0);
    if (free !== null && pending + size + UPLOAD_DISK_MARGIN_BYTES > free) {
      throw new ApiError(
        'too_large',
        `Not enough free disk space to receive ${name}: it needs ${gib(size)}${pending ? ` (and uploads in progress ${gib(pending)} more)` : ''} plus ${UPLOAD_DISK_MARGIN_BYTES / 1024 ** 2} MiB to spare, and ${gib(free)} is free.`,
        `Free some space on the disk that holds the library (${path.dirname(path.dirname(this.dir))}), then try again.`,
      );
    }
    const id = randomBytes(16).toString('hex');
    const file = path.join(this.dir, id);
    fs.writeFileSync(file, new Uint8Array());
    const now = this.now();
    this.uploads.set(id, { name: path.basename(name), size, file, received: 0, lastActive: now, taken: false });
    this.lastActivity = now;
    return id;
  }

  chunk(id: string, offset: number, base64: string): number {
    const u = this.get(id);
    if (offset !== u.received) throw new ApiError('bad_request', `Upload chunk out of order (expected offset ${u.received}, got ${offset}).`);
    const bytes = Buffer.from(base64, 'base64');
    if (u.received + bytes.length > u.size) throw new ApiError('bad_request', 'Upload is larger than announced.');
    fs.appendFileSync(u.file, bytes);
    u.received += bytes.length;
    u.lastActive = this.lastActivity = this.now();
    return u.received;
  }

  /** Hand the finished upload's file to `use`, then delete it whatever happens. */
  async finish<T>(id: string, use: (file: string, name: string) => Promise<T>): Promise<T> {
    const u = this.get(id);
    if (u.received !== u.size) throw new ApiError('bad_request', `Upload incomplete: ${u.received} of ${u.size} bytes.`);
    u.taken = true;
    try {
      return await use(u.file, u.name);
    } finally {
      this.abort(id);
    }
  }

  /** A finished upload's file, for a caller that deletes it (abort) when done with it. */
  take(id: string): { file: string; name: string } {
    const u = this.get(id);
    if (u.received !== u.size) throw new ApiError('bad_request', `Upload incomplete: ${u.received} of ${u.size} bytes.`);
    u.taken = true;
    return { file: u.file, name: u.name };
  }

  abort(id: string): void {
    const u = this.uploads.get(id);
    if (!u) return;
    this.uploads.delete(id);
    fs.rmSync(u.file, { force: true });
  }

  /** How many uploads are open (begun, not finished or aborted). */
  get open(): number {
    return this.uploads.size;
  }

  /**
   * Delete idle uploads. An unfinished one expires UPLOAD_IDLE_MS after its last chunk (its sender
   * is gone). A finished one waiting to be used (a fine-tune uploads all its files first) expires
   * once no upload at all has moved for that long. One in use (finish, take) never expires.
   */
  expire(): void {
    const now = this.now();
    for (const [id, u] of this.uploads) {
      if (u.taken) continue;
      const since = u.received === u.size ? Math.max(u.lastActive, this.lastActivity) : u.lastActive;
      if (now - since <= UPLOAD_IDLE_MS) continue;
      this.abort(id);
      this.expired.add(id);
      if (this.expired.size > REMEMBERED_EXPIRED) this.expired.delete(this.expired.values().next().value!);
    }
  }

  /** Stop the expiry timer (the uploads stay until aborted or the folder is swept). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private get(id: string): Upload {
    this.expire();
    const u = this.uploads.get(id);
    if (!u) {
      if (this.expired.has(id)) {
        throw new ApiError('not_found', `This upload expired: nothing was sent for ${UPLOAD_IDLE_MS / 60000} minutes, so its data was deleted.`, 'Send the file again.');
      }
      throw new ApiError('not_found', 'Unknown or expired upload.', 'Send the file again.');
    }
    return u;
  }
}

function statfsFreeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null; // not supported here: the check is skipped, the write itself still fails cleanly
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}

/** Newest modification time of a folder and the files directly in it. */
function newestMtime(dir: string): number {
  let newest = fs.statSync(dir).mtimeMs;
  for (const name of fs.readdirSync(dir)) {
    try {
      newest = Math.max(newest, fs.statSync(path.join(dir, name)).mtimeMs);
    } catch {
      // gone meanwhile
    }
  }
  return newest;
}

/**
 * Remove the upload folders (uploads/<pid>) of hosts that are gone: those whose process is not
 * alive, and those untouched for STALE_UPLOAD_DIR_MS (the id may now belong to another process).
 * Anything not named by a process id is left alone. Never throws.
 */
export function sweepStaleUploadDirs(parent: string, own: string, isAlive: (pid: number) => boolean = pidAlive, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (name === own || !/^[1-9]\d{0,9}$/.test(name)) continue;
    const dir = path.join(parent, name);
    try {
      if (!fs.statSync(dir).isDirectory()) continue;
      if (isAlive(Number(name)) && now - newestMtime(dir) <= STALE_UPLOAD_DIR_MS) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // another host is sweeping too, or the folder cannot be removed: leave it
    }
  }
  return removed;
}
