import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../core/api/errors.js';
import { openDatabase } from '../../../core/library/database.js';
import { importTextFile, sweepInterruptedImports } from '../../../core/library/importer.js';
import { LATEST_SCHEMA_VERSION } from '../../../core/library/migrations.js';
import { deleteDocument, listDocuments } from '../../../core/library/queries.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = tempDir();
  file = path.join(dir, 'library.sqlite');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('library database', () => {
  it('is created with WAL, 64 KiB pages, foreign keys and the latest schema', () => {
    const db = openDatabase(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('page_size', { simple: true })).toBe(65536);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
    db.close();
  });

  it('keeps its documents across close and reopen', async () => {
    let db = openDatabase(file);
    await importTextFile(db, writeFile(dir, 'a.txt', 'Hello.\n'));
    db.close();
    db = openDatabase(file);
    expect(listDocuments(db).map((d) => d.title)).toEqual(['a']);
    db.close();
  });

  it('refuses a database written by a newer version, and leaves it untouched', () => {
    openDatabase(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    raw.close();
    const before = fs.readFileSync(file);
    let error: unknown;
    try {
      openDatabase(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('db_too_new');
    expect((error as ApiError).message).toMatch(/newer version of Titans Reader/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a file that is not a database with a clear message', () => {
    fs.writeFileSync(file, 'this is not sqlite '.repeat(100));
    expect(() => openDatabase(file)).toThrow(/not a Titans Reader library/);
  });

  // A refused library stays byte-identical: nothing is written before the checks, no -wal or -shm is left.
  const sha = () => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const refusal = (): ApiError => {
    const before = sha();
    let error: unknown;
    try {
      openDatabase(file).close();
    } catch (e) {
      error = e;
    }
    expect(sha()).toBe(before);
    expect(fs.existsSync(file + '-wal')).toBe(false);
    expect(fs.existsSync(file + '-shm')).toBe(false);
    expect(fs.existsSync(file + '-journal')).toBe(false);
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  };
  /** A library of this version as a rollback-journal file (not WAL), as an older app or another tool leaves it. */
  const rollbackLibrary = (version: number, sql = 'CREATE TABLE documents (id INTEGER PRIMARY KEY)') => {
    const raw = new Database(file);
    raw.exec(sql);
    raw.pragma(`user_version = ${version}`);
    raw.close();
    expect(fs.readFileSync(file).readUInt8(18)).toBe(1); // legacy journal mode: switching to WAL would rewrite the header
  };

  it('refuses a newer library in rollback-journal mode without switching it to WAL', () => {
    rollbackLibrary(LATEST_SCHEMA_VERSION + 1);
    const e = refusal();
    expect(e.code).toBe('db_too_new');
    expect(e.message).toMatch(/newer version of Titans Reader \(schema \d+; this version understands up to \d+\)/);
    expect(e.hint).toMatch(/not changed/);
  });

  it('refuses a newer WAL library and leaves no -wal or -shm behind', async () => {
    const db = openDatabase(file);
    await importTextFile(db, writeFile(dir, 'a.txt', 'Hello.\n'));
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 7}`);
    db.close();
    expect(refusal().code).toBe('db_too_new');
  });

  it('refuses a negative schema version with a clear message, not a raw SQL error', () => {
    openDatabase(file).close();
    const raw = new Database(file);
    raw.pragma('user_version = -3');
    raw.close();
    const e = refusal();
    expect(e.code).toBe('unreadable');
    expect(e.message).toMatch(/schema version is -3, which no version of Titans Reader writes/);
    expect(e.message).not.toMatch(/already exists/);
  });

  it('refuses a schema version whose tables are missing', () => {
    rollbackLibrary(3, 'CREATE TABLE documents (id INTEGER PRIMARY KEY)');
    const e = refusal();
    expect(e.code).toBe('unreadable');
    expect(e.message).toMatch(/damaged library: it says schema 3, but the tables doc_blocks, chapters, .* are missing/);
  });

  it('refuses another program\'s SQLite database (tables, no schema version) without touching it', () => {
    rollbackLibrary(0, 'CREATE TABLE cookies (name TEXT, value TEXT)');
    const e = refusal();
    expect(e.message).toMatch(/not a Titans Reader library: it is an SQLite database with other tables \(cookies\)/);
  });

  it('refuses a file that is not SQLite, unchanged', () => {
    fs.writeFileSync(file, 'this is not sqlite '.repeat(100));
    expect(refusal().message).toMatch(/is not a Titans Reader library: it is not an SQLite database at all/);
  });

  it('refuses a truncated library, unchanged, whether cut inside the header or after it', async () => {
    const db = openDatabase(file);
    await importTextFile(db, writeFile(dir, 'a.txt', makeBook({ chapters: 4, paragraphsPerChapter: 40, seed: 1 })));
    db.close();
    const whole = fs.readFileSync(file);
    expect(whole.length).toBeGreaterThan(3 * 65536);
    fs.writeFileSync(file, whole.subarray(0, 2 * 65536 + 1000));
    expect(refusal().message).toMatch(/damaged library: it is cut off \(132,072 bytes; its header says [\d,]+ bytes\)/);
    fs.writeFileSync(file, whole.subarray(0, 2 * 65536));
    expect(refusal().message).toMatch(/damaged library: it is cut off \(131,072 bytes; its header says [\d,]+ bytes\)/);
    fs.writeFileSync(file, whole.subarray(0, 60));
    expect(refusal().message).toMatch(/damaged library: it is cut off at 60 bytes, shorter than a database header/);
  });

  it('opens an empty SQLite database as a new library', () => {
    rollbackLibrary(0, 'SELECT 1');
    const db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
    db.close();
  });

  it('deletes every row of a document with it', async () => {
    const db = openDatabase(file);
    const a = (await importTextFile(db, writeFile(dir, 'a.txt', makeBook({ chapters: 4, paragraphsPerChapter: 40, seed: 1 })))).document;
    const b = (await importTextFile(db, writeFile(dir, 'b.txt', makeBook({ chapters: 2, paragraphsPerChapter: 5, seed: 2 })))).document;
    expect(deleteDocument(db, a.id)).toBe(true);
    expect(deleteDocument(db, a.id)).toBe(false);
    for (const table of ['doc_blocks', 'chapters']) {
      expect(db.prepare(`SELECT count(*) FROM ${table} WHERE doc_id = ?`).pluck().get(a.id)).toBe(0);
      expect(db.prepare(`SELECT count(*) FROM ${table} WHERE doc_id = ?`).pluck().get(b.id)).toBeGreaterThan(0);
    }
    db.close();
  });

  it('sweeps documents left half-imported by a process that died', () => {
    const db = openDatabase(file);
    const insert = db.prepare(`INSERT INTO documents (title, format, file_name, file_size, sha256, encoding, status, import_pid, imported_at) VALUES ('x', 'text', 'x.txt', 1, ?, 'utf-8', 'importing', ?, '2026-01-01')`);
    const dead = Number(insert.run('dead', 2 ** 22 + 12345).lastInsertRowid); // no such pid
    const alive = Number(insert.run('alive', process.ppid).lastInsertRowid); // a live process still importing
    db.prepare(`INSERT INTO doc_blocks (doc_id, idx, start_char, start_line, char_len, text) VALUES (?, 0, 0, 1, 1, 'x')`).run(dead);
    expect(sweepInterruptedImports(db)).toBe(1);
    const ids = db.prepare(`SELECT id FROM documents`).pluck().all();
    expect(ids).toEqual([alive]);
    expect(db.prepare(`SELECT count(*) FROM doc_blocks`).pluck().get()).toBe(0);
    db.close();
  });
});
