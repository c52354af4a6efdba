// Liveness by process id plus start time: a recorded process whose id now names another process
// (a reused id: same pid, another start time) counts as gone, and a reading whose process was
// killed shows as interrupted at once, in the readings list and in the library list.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importTextFile, sweepInterruptedImports } from '../../../core/library/importer.js';
import { listDocuments } from '../../../core/library/queries.js';
import { isAlive, PROCESS_START, processStartTime } from '../../../core/process.js';
import { listReadings } from '../../../core/library/reading-status.js';
import { tempDir, writeFile } from '../../fixtures/texts.js';

const linux = process.platform === 'linux';

describe('isAlive', () => {
  it('knows this process by its id and start time', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(process.pid, PROCESS_START)).toBe(true);
    expect(isAlive(2 ** 22 + 12345)).toBe(false); // no such pid
    expect(isAlive(0)).toBe(false); // 0 names the process group, not a process
    expect(isAlive(-1)).toBe(false);
  });

  it.runIf(linux)('counts a reused process id (another start time) as gone', () => {
    expect(PROCESS_START).toEqual(expect.any(Number));
    expect(processStartTime(process.ppid)).toEqual(expect.any(Number));
    expect(isAlive(process.pid, PROCESS_START! + 1)).toBe(false);
    expect(isAlive(process.ppid, processStartTime(process.ppid)! - 1)).toBe(false);
    expect(isAlive(process.ppid, processStartTime(process.ppid))).toBe(true);
  });
});

describe('recorded processes', () => {
  let dir: string;
  let db: Db;
  beforeEach(() => {
    dir = tempDir();
    db = openDatabase(path.join(dir, 'library.sqlite'));
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('records the start time with the process id', async () => {
    const { document } = await importTextFile(db, writeFile(dir, 'a.txt', 'Hello.\n'));
    expect(db.prepare(`SELECT import_pid AS pid, import_pid_start AS start FROM documents WHERE id = ?`).get(document.id)).toEqual({ pid: null, start: null }); // done: cleared
    db.prepare(`UPDATE documents SET status = 'importing', import_pid = ?, import_pid_start = ? WHERE id = ?`).run(process.ppid, processStartTime(process.ppid), document.id);
    expect(sweepInterruptedImports(db)).toBe(0); // its importing process still runs
  });

  it.runIf(linux)('sweeps an import whose process id was reused by another process', () => {
    const insert = db.prepare(`INSERT INTO documents (title, format, file_name, file_size, sha256, encoding, status, import_pid, import_pid_start, imported_at) VALUES ('x', 'text', 'x.txt', 1, ?, 'utf-8', 'importing', ?, ?, '2026-01-01')`);
    const reused = Number(insert.run('reused', process.ppid, processStartTime(process.ppid)! + 1).lastInsertRowid);
    const alive = Number(insert.run('alive', process.ppid, processStartTime(process.ppid)).lastInsertRowid);
    expect(sweepInterruptedImports(db)).toBe(1);
    expect(db.prepare(`SELECT id FROM documents`).pluck().all()).toEqual([alive]);
    expect(reused).not.toBe(alive);
  });

  const readingOf = async (name: string, pid: number | null, start: number | null) => {
    const { document } = await importTextFile(db, writeFile(dir, `${name}.txt`, `${name}.\n`));
    db.prepare(`INSERT OR IGNORE INTO models (id, name, file, arch, parameters, config, tokenizer, trained, added_at) VALUES ('m', 'test model', '/m.trd', 'mac', 1, '{}', '{}', 1, '2026-01-01')`).run();
    db.prepare(`INSERT INTO readings (doc_id, model_id, status, tokens_done, tokens_total, reader_pid, reader_pid_start, queued_at, updated_at) VALUES (?, 'm', 'reading', 10, 100, ?, ?, '2026-01-01', '2026-01-01')`).run(document.id, pid, start);
    return document.id;
  };
  const shown = (docId: number) => ({ list: listReadings(db, { docId })[0]!.status, library: listDocuments(db).find((d) => d.id === docId)!.reading!.status });

  it('shows a reading whose process was SIGKILLed as interrupted at once', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const docId = await readingOf('killed', child.pid!, processStartTime(child.pid!));
    expect(shown(docId)).toEqual({ list: 'reading', library: 'reading' });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(shown(docId)).toEqual({ list: 'interrupted', library: 'interrupted' });
    expect(db.prepare(`SELECT status FROM readings WHERE doc_id = ?`).pluck().get(docId)).toBe('reading'); // shown, not rewritten
  });

  it('shows this process\'s own reading as reading, and one by a reused id or no process as interrupted', async () => {
    const mine = await readingOf('mine', process.pid, PROCESS_START);
    const gone = await readingOf('gone', 2 ** 22 + 12345, null);
    const none = await readingOf('none', null, null);
    expect(shown(mine).list).toBe('reading');
    expect(shown(gone).list).toBe('interrupted');
    expect(shown(none).list).toBe('interrupted');
    if (linux) {
      const reused = await readingOf('reused', process.pid, PROCESS_START! + 1); // an earlier run of the app that had this pid
      expect(shown(reused)).toEqual({ list: 'interrupted', library: 'interrupted' });
    }
  });
});
