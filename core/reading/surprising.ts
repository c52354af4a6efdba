// The most surprising passages of a read document: each passage scored by the mean surprise of
// its tokens (from the trace summaries), the top ones with their place (page, chapter, line).
import type { SurprisingPassage } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { getSummary, placeOf, textRange } from '../library/queries.js';
import { decodeSummary } from './trace.js';

export function surprisingPassages(db: Db, docId: number, top: number, signal: 'memory' | 'model'): { modelId: string; modelName: string; passages: SurprisingPassage[] } {
  const doc = getSummary(db, docId);
  // the latest reading that left a trace (a finished one first)
  const reading = db
    .prepare(
      `SELECT r.model_id AS modelId, m.name AS modelName FROM readings r JOIN models m ON m.id = r.model_id
       WHERE r.doc_id = ? AND EXISTS (SELECT 1 FROM surprise_traces t WHERE t.doc_id = r.doc_id AND t.model_id = r.model_id)
       ORDER BY r.status = 'done' DESC, r.updated_at DESC LIMIT 1`,
    )
    .get(docId) as { modelId: string; modelName: string } | undefined;
  if (!reading) {
    throw new ApiError('not_found', `“${doc.title}” has not been read into memory yet.`, 'Start reading it (titans-reader read ID, or Read in the library) and try again; partial readings count too.');
  }
  const key = signal === 'memory' ? 'memMean' : 'lmMean';
  const buckets = (db.prepare(`SELECT summary FROM surprise_traces WHERE doc_id = ? AND model_id = ? ORDER BY piece`).all(docId, reading.modelId) as Array<{ summary: Buffer }>).flatMap((r) => decodeSummary(r.summary));
  const passages = db.prepare(`SELECT start_char AS start, end_char AS end FROM passages WHERE doc_id = ? ORDER BY idx`).all(docId) as Array<{ start: number; end: number }>;

  // Walk passages and buckets together; a bucket counts for the passage that holds its middle.
  const scored: Array<{ start: number; end: number; score: number }> = [];
  let b = 0;
  for (const p of passages) {
    let sum = 0;
    let n = 0;
    while (b < buckets.length && (buckets[b]!.startChar + buckets[b]!.endChar) / 2 < p.end) {
      const v = buckets[b]![key];
      if ((buckets[b]!.startChar + buckets[b]!.endChar) / 2 >= p.start && Number.isFinite(v)) {
        sum += v;
        n++;
      }
      b++;
    }
    if (n > 0) scored.push({ start: p.start, end: p.end, score: sum / n });
  }
  scored.sort((x, y) => y.score - x.score);
  return {
    modelId: reading.modelId,
    modelName: reading.modelName,
    passages: scored.slice(0, top).map((p) => {
      const { text, line } = textRange(db, docId, p.start, p.end);
      const place = placeOf(db, docId, p.start);
      return { start: p.start, end: p.end, line, page: place.page, chapter: place.chapter, score: p.score, text };
    }),
  };
}
