// The most surprising passages of a read document: each passage scored by the mean surprise of
// its tokens (from the trace summaries), the top ones with their place (page, chapter, line).
import type { SurprisingPassage } from '../api/contract.js';
import type { Db } from '../library/database.js';
import { passageSpans } from '../library/passages.js';
import { placeOf, textRange } from '../library/queries.js';
import { readingFor, summaries } from './inspect.js';

export function surprisingPassages(db: Db, docId: number, top: number, signal: 'memory' | 'model'): { modelId: string; modelName: string; passages: SurprisingPassage[] } {
  const reading = readingFor(db, docId);
  const key = signal === 'memory' ? 'memMean' : 'lmMean';
  const buckets = summaries(db, docId, reading.modelId);
  const passages = passageSpans(db, docId);

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
