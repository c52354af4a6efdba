// The passages of the library's documents and their FTS5 index (written by document-writer.ts):
// what Ask searches, what the sentence ranker counts words over, and what surprise is summed over.
import type { Db } from './database.js';

/** A document's passages, in order. */
export function passageSpans(db: Db, docId: number): Array<{ start: number; end: number }> {
  return db.prepare(`SELECT start_char AS start, end_char AS end FROM passages WHERE doc_id = ? ORDER BY idx`).all(docId) as Array<{ start: number; end: number }>;
}

/** The passages of ready documents (all, or those in ids) that match an FTS5 query, best BM25 first (lower is better in SQLite's bm25()). */
export function searchPassages(db: Db, query: string, ids: number[] | undefined, limit: number): Array<{ docId: number; start: number; end: number; bm25: number }> {
  return db
    .prepare(
      `SELECT p.doc_id AS docId, p.start_char AS start, p.end_char AS end, bm25(passages_fts) AS bm25
       FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid JOIN documents d ON d.id = p.doc_id
       WHERE passages_fts MATCH @query AND d.status = 'ready' AND (@ids IS NULL OR p.doc_id IN (SELECT value FROM json_each(@ids)))
       ORDER BY bm25 LIMIT ${Math.trunc(limit)}`,
    )
    .all({ query, ids: ids ? JSON.stringify(ids) : null }) as Array<{ docId: number; start: number; end: number; bm25: number }>;
}

/** Counts over the passages of the given documents: how many there are, and how many match an
 * FTS5 query (prepared once, for many queries; throws for a query FTS5 cannot parse). */
export function passageCounts(db: Db, docIds: readonly number[]): { total: number; matching(query: string): number } {
  const ids = JSON.stringify([...new Set(docIds)]);
  const total = db.prepare(`SELECT count(*) FROM passages WHERE doc_id IN (SELECT value FROM json_each(?))`).pluck().get(ids) as number;
  const count = db.prepare(`SELECT count(*) FROM passages_fts f JOIN passages p ON p.id = f.rowid WHERE passages_fts MATCH ? AND p.doc_id IN (SELECT value FROM json_each(?))`).pluck();
  return { total, matching: (query) => count.get(query, ids) as number };
}
