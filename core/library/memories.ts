// What the library keeps of the books' memories: the state a model left after a whole book
// (memory_states), else the last checkpoint of a reading in progress (readings.checkpoint).
// Written by the reading (core/reading/read-document.ts); read here for recall, answers and Ask.
import type { Db } from './database.js';

/** Some book has been read to the end (by any model): the memories can rank books for Ask. */
export function hasMemories(db: Db): boolean {
  return db.prepare(`SELECT 1 FROM memory_states LIMIT 1`).get() !== undefined;
}

/** The book's reading is done and its memory stored. */
export function hasFinishedMemory(db: Db, docId: number): boolean {
  return db.prepare(`SELECT 1 FROM readings r JOIN memory_states s ON s.doc_id = r.doc_id AND s.model_id = r.model_id WHERE r.doc_id = ? AND r.status = 'done'`).get(docId) !== undefined;
}

/** The bytes of the book's memory read by this model: after the whole book, else the last checkpoint; null: none yet. */
export function memoryBytes(db: Db, docId: number, modelId: string): Buffer | null {
  const row = db
    .prepare(`SELECT coalesce(s.state, r.checkpoint) AS state FROM readings r LEFT JOIN memory_states s ON s.doc_id = r.doc_id AND s.model_id = r.model_id WHERE r.doc_id = ? AND r.model_id = ?`)
    .get(docId, modelId) as { state: Buffer | null } | undefined;
  return row?.state ?? null;
}

/** Names the stored bytes of a memory without reading them: it changes whenever they do (a new
 * checkpoint, the final state, the document deleted and its id reused), so a decoded copy can be kept. */
const VERSION = `coalesce('s' || s.created_at || ':' || s.tokens || ':' || length(s.state), 'c' || r.updated_at || ':' || r.tokens_done || ':' || length(r.checkpoint))`;

/** The version of the book's memory by this model (see VERSION); null: none yet. */
export function memoryVersion(db: Db, docId: number, modelId: string): string | null {
  const row = db
    .prepare(`SELECT ${VERSION} AS version FROM readings r LEFT JOIN memory_states s ON s.doc_id = r.doc_id AND s.model_id = r.model_id WHERE r.doc_id = ? AND r.model_id = ?`)
    .get(docId, modelId) as { version: string | null } | undefined;
  return row?.version ?? null;
}

/** Every ready book (all, or those in docIds) with a memory by this model (finished, else a checkpoint), by title; the bytes are not read. */
export function memoriesBy(db: Db, modelId: string, docIds: number[] | undefined): Array<{ docId: number; title: string }> {
  return db
    .prepare(
      `SELECT d.id AS docId, d.title
       FROM readings r JOIN documents d ON d.id = r.doc_id LEFT JOIN memory_states s ON s.doc_id = r.doc_id AND s.model_id = r.model_id
       WHERE r.model_id = @model AND d.status = 'ready' AND coalesce(s.state, r.checkpoint) IS NOT NULL
         AND (@ids IS NULL OR d.id IN (SELECT value FROM json_each(@ids))) ORDER BY d.title`,
    )
    .all({ model: modelId, ids: docIds ? JSON.stringify(docIds) : null }) as Array<{ docId: number; title: string }>;
}
