// Inverse document frequency of a (stemmed) word in the chosen books, counted over their passages
// with FTS5 (a prefix query: the stem "lov" counts "love", "loved", "loving"), for the sentence
// ranker's BM25 and coverage weights. Counts are cached for the life of one question.
import type { Db } from '../library/database.js';
import { passageCounts } from '../library/passages.js';

export function bookIdf(db: Db, docIds: readonly number[]): (term: string) => number {
  const { total: n, matching } = passageCounts(db, docIds);
  const cache = new Map<string, number>();
  return (term) => {
    let v = cache.get(term);
    if (v === undefined) {
      const prefix = term.replace(/y$/, '').replace(/"/g, '');
      let df = 0;
      if (prefix.length > 0) {
        try {
          df = matching(`"${prefix}"${prefix.length >= 3 ? '*' : ''}`);
        } catch {
          df = 0; // a term FTS5 cannot take: counts as rare
        }
      }
      v = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      cache.set(term, v);
    }
    return v;
  };
}
