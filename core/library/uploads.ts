// Files sent by the UI in chunks (browser host drag and drop), spooled to a temporary file so
// even a very large upload never sits in memory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { MAX_FILE_BYTES } from './importer.js';

interface Upload {
  name: string;
  size: number;
  file: string;
  received: number;
}

export class Uploads {
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly dir: string) {
    fs.rmSync(dir, { recursive: true, force: true }); // leftovers of an earlier run
  }

  begin(name: string, size: number): string {
    if (size === 0) throw new ApiError('empty_file', `${name} is empty: there is nothing to read.`, 'Check that you picked the right file.');
    if (size > MAX_FILE_BYTES) throw new ApiError('too_large', `${name} is larger than the ${MAX_FILE_BYTES / 1024 ** 3} GiB limit.`, 'Split it into smaller files.');
    fs.mkdirSync(this.dir, { recursive: true });
    const id = randomBytes(16).toString('hex');
    const file = path.join(this.dir, id);
    fs.writeFileSync(file, new Uint8Array());
    this.uploads.set(id, { name: path.basename(name), size, file, received: 0 });
    return id;
  }

  chunk(id: string, offset: number, base64: string): number {
    const u = this.get(id);
    if (offset !== u.received) throw new ApiError('bad_request', `Upload chunk out of order (expected offset ${u.received}, got ${offset}).`);
    const bytes = Buffer.from(base64, 'base64');
    if (u.received + bytes.length > u.size) throw new ApiError('bad_request', 'Upload is larger than announced.');
    fs.appendFileSync(u.file, bytes);
    u.received += bytes.length;
    return u.received;
  }

  /** Hand the finished upload's file to `use`, then delete it whatever happens. */
  async finish<T>(id: string, use: (file: string, name: string) => Promise<T>): Promise<T> {
    const u = this.get(id);
    if (u.received !== u.size) throw new ApiError('bad_request', `Upload incomplete: ${u.received} of ${u.size} bytes.`);
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
    return { file: u.file, name: u.name };
  }

  abort(id: string): void {
    const u = this.uploads.get(id);
    if (!u) return;
    this.uploads.delete(id);
    fs.rmSync(u.file, { force: true });
  }

  private get(id: string): Upload {
    const u = this.uploads.get(id);
    if (!u) throw new ApiError('not_found', 'Unknown or expired upload.');
    return u;
  }
}
