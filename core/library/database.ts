// Opens the library database: WAL, 64 KiB pages (fast large blobs), foreign keys, migrations,
// and a clear refusal of a database written by a newer version of the app or not by this app.
//
// Nothing is written before the file has passed every check: the header is read as bytes first
// (a newer schema is refused without SQLite opening the file at all), then SQLite reads the schema
// version and tables through a connection that has written nothing yet, and only then switches to
// WAL and migrates. A refused library is left byte-identical, with no -wal or -shm files beside it.
// (One exception: a library left with a -wal file by a crash is refused only once SQLite has read
// it, and closing that connection folds the -wal into the file: the same library, other bytes.)
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { LATEST_SCHEMA_VERSION, migrations } from './migrations.js';

export type Db = Database.Database;

const HEADER_BYTES = 100;
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const ASIDE = 'Move it aside or choose another data folder with --data.';
const UNCHANGED = 'The library was not changed.';

/** A connection that can only read an existing library: the model worker's, so that only the main
 * thread writes (core/library/readings.ts); any write through it fails with SQLITE_READONLY. */
export function openReadonlyDatabase(file: string): Db {
  checkHeader(file);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    checkSchema(db, file);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

export function openDatabase(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const isNew = !fs.existsSync(file) || fs.statSync(file).size === 0;
  if (!isNew) checkHeader(file);
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new ApiError('unreadable', `Cannot open the library database ${file}: ${(e as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000'); // a setting of this connection, not a write
    if (!isNew) checkSchema(db, file); // reads only
    if (isNew) db.pragma('page_size = 65536'); // must precede the first table
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (e) {
    db.close(); // the last connection removes the -wal and -shm it made
    if (e instanceof ApiError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new ApiError('unreadable', `${file} is not a Titans Reader library (or it is damaged).`, ASIDE);
    }
    throw e;
  }
}

/** The 100-byte SQLite header, checked as bytes before SQLite touches the file. */
function checkHeader(file: string): void {
  const size = fs.statSync(file).size;
  const header = Buffer.alloc(HEADER_BYTES);
  let read: number;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      read = fs.readSync(fd, header, 0, HEADER_BYTES, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw new ApiError('unreadable', `Cannot open the library database ${file}: ${(e as Error).message}`);
  }
  const start = header.subarray(0, Math.min(read, MAGIC.length));
  if (!start.equals(MAGIC.subarray(0, start.length))) {
    throw new ApiError('unreadable', `${file} is not a Titans Reader library: it is not an SQLite database at all.`, `${ASIDE} ${UNCHANGED}`);
  }
  if (read < HEADER_BYTES) {
    throw new ApiError('unreadable', `${file} is a damaged library: it is cut off at ${size} bytes, shorter than a database header.`, `Restore it from a backup, or ${ASIDE.toLowerCase()} ${UNCHANGED}`);
  }
  // Another process may have the library open (a -wal file) or a crash left a transaction to roll
  // back (a -journal file): the header may then lag behind the file or be mid-write, so the rest is
  // left to SQLite (checkSchema), which reads through the WAL and rolls the journal back.
  if (fs.existsSync(`${file}-wal`) || fs.existsSync(`${file}-journal`)) return;
  const rawPage = header.readUInt16BE(16);
  const pageSize = rawPage === 1 ? 65536 : rawPage;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    throw new ApiError('unreadable', `${file} is a damaged library: its header gives an impossible page size (${rawPage}).`, `${ASIDE} ${UNCHANGED}`);
  }
  // the page count in the header is valid when "version-valid-for" matches the change counter
  const pages = header.readUInt32BE(92) === header.readUInt32BE(24) ? header.readUInt32BE(28) : 0;
  if (size % pageSize !== 0 || size < pages * pageSize) {
    const expected = pages > 0 ? `; its header says ${(pages * pageSize).toLocaleString('en')} bytes` : '';
    throw new ApiError('unreadable', `${file} is a damaged library: it is cut off (${size.toLocaleString('en')} bytes${expected}).`, `Restore it from a backup, or ${ASIDE.toLowerCase()} ${UNCHANGED}`);
  }
  checkVersion(header.readInt32BE(60), file); // read again through SQLite by checkSchema
}

function checkVersion(version: number, file: string): void {
  if (version < 0) {
    throw new ApiError('unreadable', `${file} is not a Titans Reader library: its schema version is ${version}, which no version of Titans Reader writes (it is damaged, or another program wrote it).`, `${ASIDE} ${UNCHANGED}`);
  }
  if (version > LATEST_SCHEMA_VERSION) {
    throw new ApiError(
      'db_too_new',
      `The library at ${file} was written by a newer version of Titans Reader (schema ${version}; this version understands up to ${LATEST_SCHEMA_VERSION}).`,
      `Update Titans Reader, or choose another data folder. ${UNCHANGED}`,
    );
  }
}

/** Every table that the migrations up to `version` create (what a library of that version has). */
function tablesUpTo(version: number): string[] {
  return migrations.filter((m) => m.version <= version).flatMap((m) => [...m.sql.matchAll(/CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(\w+)/gi)].map((x) => x[1]!));
}

/** The version and tables as SQLite sees them (through a -wal file, if any), before any write. */
function checkSchema(db: Db, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  checkVersion(version, file);
  const tables = new Set(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).pluck().all() as string[]);
  if (version === 0) {
    if (tables.size > 0) {
      const names = [...tables].slice(0, 5).join(', ');
      throw new ApiError('unreadable', `${file} is not a Titans Reader library: it is an SQLite database with other tables (${names}${tables.size > 5 ? ', …' : ''}) and no Titans Reader schema version.`, `${ASIDE} ${UNCHANGED}`);
    }
    return; // an empty database: it becomes a library
  }
  const missing = tablesUpTo(version).filter((t) => !tables.has(t));
  if (missing.length > 0) {
    throw new ApiError('unreadable', `${file} is a damaged library: it says schema ${version}, but the table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing.`, `Restore it from a backup, or ${ASIDE.toLowerCase()} ${UNCHANGED}`);
  }
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
