// Killing the process (SIGKILL) in the middle of reading shows the reading as interrupted at once;
// starting again resumes from the last checkpoint, and the final memory equals an uninterrupted read's. The CLI runs as a real child
// process with the real worker and model; a second library reads the same file without a kill.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { decodeTracePiece } from '../../../core/reading/trace.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { cli } from '../cli/run-cli.js';
import { compare } from '../../helpers/models.js';

const root = path.resolve(import.meta.dirname, '../../..');
let dir: string;
let model: string;
let book: string;

beforeAll(async () => {
  dir = tempDir('titans-crash-');
  model = await writeTinyReaderModel(dir);
  book = writeFile(dir, 'book.txt', makeBook({ chapters: 4, paragraphsPerChapter: 30, seed: 17, title: 'Crash Test' }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const open = (data: string) => new Database(path.join(data, 'library.sqlite'), { readonly: true, fileMustExist: true });
const readingRow = (data: string) => {
  if (!fs.existsSync(path.join(data, 'library.sqlite'))) return undefined;
  const db = open(data);
  try {
    return db.prepare(`SELECT status, tokens_done AS done, tokens_total AS total, checkpoint IS NOT NULL AS hasCheckpoint FROM readings`).get() as
      | { status: string; done: number; total: number; hasCheckpoint: number }
      | undefined;
  } catch {
    return undefined; // the schema is being created
  } finally {
    db.close();
  }
};

describe('a reading killed with SIGKILL', () => {
  it('resumes from its last checkpoint and ends with the memory of an uninterrupted read', async () => {
    const killed = path.join(dir, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli/main.ts', 'import', book, '--read', '--data', killed, '--model', model, '--backend', 'wasm'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

    // Kill it once a checkpoint is on disk, well before the end.
    const deadline = Date.now() + 120_000;
    let row = readingRow(killed);
    while (!(row && row.done >= 8192 && row.status === 'reading')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no checkpoint appeared:\n${output}`);
      await new Promise((r) => setTimeout(r, 25));
      row = readingRow(killed);
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const atKill = readingRow(killed)!;
    expect(atKill.status).toBe('reading'); // as the crash left it
    expect(atKill.hasCheckpoint).toBe(1);
    expect(atKill.done).toBeGreaterThanOrEqual(8192);
    expect(atKill.done).toBeLessThan(atKill.total);

    // `status` shows it interrupted at once (its process is gone), not "reading" until the next `read`.
    const shown = await cli('status', '--data', killed);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/\binterrupted\b/);
    expect(shown.out).not.toMatch(/\breading\b/);
    expect(readingRow(killed)!.status).toBe('reading'); // status only shows it; `read` takes it up again

    // Start again: `read` finds the interrupted reading and continues it.
    const resumed = await cli('read', '--data', killed, '--model', model, '--backend', 'wasm');
    expect(resumed.code, resumed.err).toBe(0);
    expect(readingRow(killed)).toMatchObject({ status: 'done', done: atKill.total, hasCheckpoint: 0 });

    // The same file read without interruption, in another library.
    const clean = path.join(dir, 'clean');
    const straight = await cli('import', book, '--read', '--data', clean, '--model', model, '--backend', 'wasm');
    expect(straight.code, straight.err).toBe(0);

    const a = open(killed);
    const b = open(clean);
    try {
      const state = (db: Database.Database) => decodeCheckpoint(db.prepare(`SELECT state FROM memory_states`).pluck().get() as Buffer);
      const sa = state(a);
      const sb = state(b);
      expect(sa.meta).toMatchObject({ pos: atKill.total });
      expect(sa.tensors.map((t) => t.name)).toEqual(sb.tensors.map((t) => t.name));
      for (const t of sb.tensors) expect(compare(sa.tensors.find((x) => x.name === t.name)!.data, t.data).rel, t.name).toBeLessThan(1e-5);
      // the trace was neither lost nor written twice: the same pieces, the same values
      const pieces = (db: Database.Database) => (db.prepare(`SELECT data FROM surprise_traces ORDER BY piece`).all() as Array<{ data: Buffer }>).map((r) => decodeTracePiece(r.data));
      const pa = pieces(a);
      const pb = pieces(b);
      expect(pa.map((p) => [p.startToken, p.offsets.length])).toEqual(pb.map((p) => [p.startToken, p.offsets.length]));
      const surprisal = (ps: ReturnType<typeof pieces>) => ps.flatMap((p) => Array.from(p.surprisal)).slice(1);
      expect(compare(surprisal(pa), surprisal(pb)).maxAbs).toBeLessThan(1e-2);
    } finally {
      a.close();
      b.close();
    }
  }, 240_000);
});
