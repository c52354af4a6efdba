// Opens the library database: WAL, 64 KiB pages (fast large blobs), foreign keys, migrations,
// and a clear refusal of a database written by a newer version of the app.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { LATEST_SCHEMA_VERSION, migrations } from './migrations.js';

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const isNew = !fs.existsSync(file) || fs.statSync(file).size === 0;
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new ApiError('unreadable', `Cannot open the library database ${file}: ${(e as Error).message}`);
  }
  try {
    if (isNew) db.pragma('page_size = 65536'); // must precede the first table
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, file);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof ApiError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new ApiError('unreadable', `${file} is not a Titans Reader library (or it is damaged).`, 'Move it aside or choose another data folder with --data.');
    }
    throw e;
  }
}

function migrate(db: Db, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_SCHEMA_VERSION) {
    throw new ApiError(
      'db_too_new',
      `The library at ${file} was written by a newer version of Titans Reader (schema ${current}; this version understands up to ${LATEST_SCHEMA_VERSION}).`,
      'Update Titans Reader, or choose another data folder. The library was not changed.',
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
