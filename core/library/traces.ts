// What the views read of a reading (core/reading/inspect.ts): which model's reading to show, the
// stored trace pieces and summaries (bytes; decoded by core/reading/trace.ts), a stamp that
// changes when the trace grows, and the model's stored config and tokenizer. Written by
// core/library/readings.ts.
import type { Db } from './database.js';

export interface ReadingRef {
  modelId: string;
  modelName: string;
  status: string;
}

/** The reading to show: the given model's, else the latest that left a trace (finished ones first); null: none. */
export function readingWithTrace(db: Db, docId: number, modelId?: string): ReadingRef | null {
  return (
    (db
      .prepare(
        `SELECT r.model_id AS modelId, m.name AS modelName, r.status FROM readings r JOIN models m ON m.id = r.model_id
         WHERE r.doc_id = @docId AND (@modelId IS NULL OR r.model_id = @modelId)
           AND EXISTS (SELECT 1 FROM surprise_traces t WHERE t.doc_id = r.doc_id AND t.model_id = r.model_id)
         ORDER BY r.status = 'done' DESC, r.updated_at DESC LIMIT 1`,
      )
      .get({ docId, modelId: modelId ?? null }) as ReadingRef | undefined) ?? null
  );
}

/** The trace pieces that overlap [start, end) of the text, in order. */
export function tracePiecesIn(db: Db, docId: number, modelId: string, start: number, end: number): Buffer[] {
  return (db.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? AND model_id = ? AND start_char < ? AND end_char > ? ORDER BY piece`).all(docId, modelId, end, start) as Array<{ data: Buffer }>).map((r) => r.data);
}

/** Changes whenever the reading's trace grows or the reading is redone (a deleted document's id may come back). */
export function traceStamp(db: Db, docId: number, modelId: string): string {
  return db
    .prepare(`SELECT count(*) || ':' || coalesce(max(piece), -1) || ':' || (SELECT updated_at FROM readings WHERE doc_id = @docId AND model_id = @modelId) FROM surprise_traces WHERE doc_id = @docId AND model_id = @modelId`)
    .pluck()
    .get({ docId, modelId }) as string;
}

/** Every piece's summary, in text order. */
export function traceSummaries(db: Db, docId: number, modelId: string): Buffer[] {
  return (db.prepare(`SELECT summary FROM surprise_traces WHERE doc_id = ? AND model_id = ? ORDER BY piece`).all(docId, modelId) as Array<{ summary: Buffer }>).map((r) => r.summary);
}

/** A registered model's stored tokenizer spec and config (JSON). */
export function modelSpec(db: Db, modelId: string): { tokenizer: unknown; config: unknown } {
  const row = db.prepare(`SELECT tokenizer, config FROM models WHERE id = ?`).get(modelId) as { tokenizer: string; config: string } | undefined;
  if (!row) throw new Error(`model ${modelId} is not registered`);
  return { tokenizer: JSON.parse(row.tokenizer), config: JSON.parse(row.config) };
}
