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
  {
    version: 2,
    description: 'pages, passages in FTS5, models, reading into memory: progress, checkpoints, memory states, surprise traces',
    sql: `
      -- PDF pages (with their labels), an EPUB's own page list, or a location every ~1,800 characters.
      CREATE TABLE pages (
        doc_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        start_char INTEGER NOT NULL,
        number     INTEGER NOT NULL,
        label      TEXT,
        PRIMARY KEY (doc_id, idx)
      ) WITHOUT ROWID;

      -- Runs of whole paragraphs (~800 characters): what search finds and answers cite.
      CREATE TABLE passages (
        id         INTEGER PRIMARY KEY,
        doc_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        start_char INTEGER NOT NULL,
        end_char   INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX passages_doc ON passages (doc_id, idx);
      -- Contentless: the text lives once, in doc_blocks; rowid = passages.id.
      CREATE VIRTUAL TABLE passages_fts USING fts5 (text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
      CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN
        DELETE FROM passages_fts WHERE rowid = old.id;
      END;

      -- Model versions that read documents. id: the first 16 hex digits of the checkpoint's sha256.
      CREATE TABLE models (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        file        TEXT NOT NULL,
        arch        TEXT NOT NULL,
        parameters  INTEGER NOT NULL,
        config      TEXT NOT NULL, -- JSON
        tokenizer   TEXT NOT NULL, -- JSON
        trained     INTEGER NOT NULL, -- 0: randomly initialised
        added_at    TEXT NOT NULL
      );

      -- Reading a document into a model's memory: one row per (document, model version).
      CREATE TABLE readings (
        doc_id        INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        model_id      TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        status        TEXT NOT NULL CHECK (status IN ('queued', 'reading', 'paused', 'done', 'failed')),
        tokens_done   INTEGER NOT NULL DEFAULT 0, -- at the last checkpoint
        tokens_total  INTEGER, -- null until counted
        seconds       REAL NOT NULL DEFAULT 0, -- reading time, summed over sessions
        checkpoint    BLOB, -- the model state at tokens_done (TITANSRD memory-state), null when none
        error         TEXT, -- JSON {code, message, hint} when failed
        reader_pid    INTEGER, -- the process reading it while status = 'reading'
        queued_at     TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (doc_id, model_id)
      ) WITHOUT ROWID;

      -- The document's memory after reading it whole, for that model version.
      CREATE TABLE memory_states (
        doc_id      INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        tokens      INTEGER NOT NULL,
        seconds     REAL NOT NULL,
        backend     TEXT NOT NULL,
        state       BLOB NOT NULL, -- TITANSRD memory-state, float32
        created_at  TEXT NOT NULL,
        PRIMARY KEY (doc_id, model_id)
      ) WITHOUT ROWID;

      -- Per-token surprise and per-chunk gates, one row per piece read between two checkpoints.
      CREATE TABLE surprise_traces (
        doc_id      INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        model_id    TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        piece       INTEGER NOT NULL,
        start_token INTEGER NOT NULL,
        tokens      INTEGER NOT NULL,
        start_char  INTEGER NOT NULL,
        end_char    INTEGER NOT NULL,
        data        BLOB NOT NULL, -- TITANSRD surprise-trace, float16
        summary     BLOB NOT NULL, -- float32 [buckets, fields]: the downsampled view of the piece
        PRIMARY KEY (doc_id, model_id, piece)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'questions asked, with the books they were asked of and the passages found',
    sql: `
      CREATE TABLE questions (
        id        INTEGER PRIMARY KEY,
        question  TEXT NOT NULL,
        doc_ids   TEXT, -- JSON array, null: every book
        citations TEXT NOT NULL, -- JSON: what was found (book, place, offsets, scores)
        asked_at  TEXT NOT NULL
      );
      CREATE VIRTUAL TABLE questions_fts USING fts5 (question, content = 'questions', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');
      CREATE TRIGGER questions_ai AFTER INSERT ON questions BEGIN
        INSERT INTO questions_fts (rowid, question) VALUES (new.id, new.question);
      END;
      CREATE TRIGGER questions_ad AFTER DELETE ON questions BEGIN
        INSERT INTO questions_fts (questions_fts, rowid, question) VALUES ('delete', old.id, old.question);
      END;
    `,
  },
  {
    version: 4,
    description: 'model versions (parent, metrics), settings, fine-tunes and their loss curves',
    sql: `
      ALTER TABLE models ADD COLUMN parent_id TEXT; -- the version it was fine-tuned from
      ALTER TABLE models ADD COLUMN meta TEXT; -- JSON: the checkpoint's metadata (data, steps, held-out loss)

      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

      -- Fine-tuning a model on the user's files: one row per job. Its dataset and checkpoint live
      -- in DATA/finetunes/<id>/; the version it makes is registered in models.
      CREATE TABLE finetunes (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL,
        base_model_id   TEXT NOT NULL,
        base_file       TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('running', 'paused', 'done', 'failed', 'cancelled')),
        options         TEXT NOT NULL, -- JSON (steps, learning rate, trainable parts, ...)
        dataset         TEXT NOT NULL, -- JSON: sources, characters, skipped files
        step            INTEGER NOT NULL DEFAULT 0, -- at the last checkpoint
        held_out_before REAL, -- nats per token, before any step
        held_out_after  REAL,
        train_tokens    INTEGER,
        held_out_tokens INTEGER,
        seconds         REAL NOT NULL DEFAULT 0,
        result_model_id TEXT,
        error           TEXT, -- JSON {code, message, hint}
        runner_pid      INTEGER, -- the process training it while status = 'running'
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
      );
      CREATE TABLE finetune_metrics (
        finetune_id       INTEGER NOT NULL REFERENCES finetunes (id) ON DELETE CASCADE,
        step              INTEGER NOT NULL,
        loss              REAL NOT NULL,
        eval_loss         REAL,
        lr                REAL NOT NULL,
        tokens_per_second REAL NOT NULL,
        PRIMARY KEY (finetune_id, step)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    description: 'the model\'s answer kept with each question',
    sql: `
      ALTER TABLE questions ADD COLUMN answer TEXT; -- JSON: the merged answer and each book's, null when only passages were asked for
    `,
  },
  {
    version: 6,
    description: 'the start time of the process recorded with each process id (ids are reused)',
    sql: `
      -- core/process.ts processStartTime: null where unknown (then the id alone tells liveness)
      ALTER TABLE documents ADD COLUMN import_pid_start INTEGER;
      ALTER TABLE readings ADD COLUMN reader_pid_start INTEGER;
      ALTER TABLE finetunes ADD COLUMN runner_pid_start INTEGER;
    `,
  },
  {
    version: 7,
    description: 'the sentences that answer kept with each question',
    sql: `
      -- JSON: each answering book's sentences (place in the book, confidence, short answer), null before
      ALTER TABLE questions ADD COLUMN sentences TEXT;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version;
