// Numbered schema migrations. Append only: never edit a migration that has shipped.
// PRAGMA user_version holds the number of the last migration applied.
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    description: 'documents, their text in blocks, chapters',
    sql: `
      CREATE TABLE documents (
        id          INTEGER PRIMARY KEY,
        title       TEXT NOT NULL,
        author      TEXT,
        format      TEXT NOT NULL,
        file_name   TEXT NOT NULL,
        file_size   INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        encoding    TEXT NOT NULL,
        char_count  INTEGER NOT NULL DEFAULT 0,
        line_count  INTEGER NOT NULL DEFAULT 0,
        status      TEXT NOT NULL CHECK (status IN ('importing', 'ready')),
        import_pid  INTEGER,
        imported_at TEXT NOT NULL
      );
      CREATE INDEX documents_sha256 ON documents (sha256) WHERE status = 'ready';

      -- The normalized text (LF line ends), in blocks that end on a line break where possible.
      CREATE TABLE doc_blocks (
        doc_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        start_char INTEGER NOT NULL,
        start_line INTEGER NOT NULL,
        char_len   INTEGER NOT NULL, -- UTF-16 code units, the unit of every offset in the app
        text       TEXT NOT NULL,
        PRIMARY KEY (doc_id, idx)
      ) WITHOUT ROWID;

      CREATE TABLE chapters (
        doc_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        title      TEXT NOT NULL,
        level      INTEGER NOT NULL,
        start_char INTEGER NOT NULL,
        line       INTEGER NOT NULL,
        PRIMARY KEY (doc_id, idx)
      ) WITHOUT ROWID;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version;
