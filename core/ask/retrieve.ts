// Retrieval for Ask: candidates from SQLite FTS5 (BM25 over the passages of the chosen books),
// fused with the books' memories. Each read book's neural memory scores how familiar the question
// is (the memory's own loss on it, against a fresh memory's: the recall probe), which ranks the
// books; the fused score is reciprocal rank fusion (Cormack et al. 2009):
//   score(p) = 1 / (K + rank_bm25(p)) + W / (K + rank_memory(book of p))
// with K = 60 and W = 1: a passage's text match and its book's familiarity count alike, and a
// book without a memory simply lacks the second term. With rerank, the model then scores the first
// RERANK_CANDIDATES passages with their book's memory loaded (core/ask/score-passages.ts: how
// much more expected the question becomes after the passage), which adds a third term
//   + W / (K + rank_model(p))
// to those passages before they are sorted again.
import type { Citation } from '../api/contract.js';
import type { Db } from '../library/database.js';
import { searchPassages } from '../library/passages.js';
import { documentTitle, placeOf, textRange } from '../library/queries.js';
import { finiteMean } from '../util/stats.js';

export const RRF_K = 60;
export const MEMORY_WEIGHT = 1;
export const MODEL_WEIGHT = 1;
export const RERANK_CANDIDATES = 8;
const CANDIDATES = 50;

/** An FTS5 query matching any of the question's words (each quoted: no operator injection). */
export function ftsQuery(question: string): string | null {
  const words = [...new Set((question.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? []).filter((w) => !STOP.has(w)))];
  return words.length ? words.map((w) => `"${w}"`).join(' OR ') : null;
}

// Words too common to point at a passage (English; other languages pass through unfiltered).
const STOP = new Set('the a an and or of to in on at by for with from is are was were be been it its this that these those what which who whom whose when where why how did does do has have had not no as into than then there their they he she his her him we you your our i me my'.split(' '));

export interface BookFamiliarity {
  docId: number;
  /** the fresh memory's loss minus this book's, averaged over layers: higher is more familiar */
  familiarity: number;
}

export interface Retrieved {
  citations: Citation[];
  /** the books' memories took part (false: no book was read, or the model could not start) */
  usedMemory: boolean;
}

/** The `top` best passages for a question in the given books (all when none are given). */
export function retrieve(db: Db, question: string, opts: { ids?: number[]; top: number; familiarity?: BookFamiliarity[] }): Retrieved {
  const query = ftsQuery(question);
  if (!query) return { citations: [], usedMemory: false };
  const rows = searchPassages(db, query, opts.ids, CANDIDATES);
  const familiar = [...(opts.familiarity ?? [])].sort((a, b) => b.familiarity - a.familiarity);
  const bookRank = new Map(familiar.map((f, i) => [f.docId, i + 1]));
  const scored = rows.map((r, i) => {
    const memoryRank = bookRank.get(r.docId);
    return { ...r, bm25Rank: i + 1, memoryRank: memoryRank ?? null, score: 1 / (RRF_K + i + 1) + (memoryRank ? MEMORY_WEIGHT / (RRF_K + memoryRank) : 0) };
  });
  scored.sort((a, b) => b.score - a.score);
  const titles = new Map<number, string>();
  const title = (id: number) => {
    if (!titles.has(id)) titles.set(id, documentTitle(db, id));
    return titles.get(id)!;
  };
  return {
    usedMemory: familiar.length > 0,
    citations: scored.slice(0, opts.top).map((r): Citation => {
      const { text, line } = textRange(db, r.docId, r.start, r.end);
      const place = placeOf(db, r.docId, r.start);
      return { docId: r.docId, title: title(r.docId), start: r.start, end: r.end, line, page: place.page, chapter: place.chapter, text, score: r.score, bm25: -r.bm25, bm25Rank: r.bm25Rank, memoryRank: r.memoryRank, modelRank: null };
    }),
  };
}

/** Familiarity of the question to each book's memory, from the recall probe's rows. */
export function familiarityFrom(rows: Array<{ docId: number | null; memLoss: Array<number | null> }>): BookFamiliarity[] {
  const fresh = rows.find((r) => r.docId === null);
  if (!fresh) return [];
  const base = finiteMean(fresh.memLoss);
  return rows.flatMap((r) => {
    const loss = finiteMean(r.memLoss);
    return r.docId !== null && base !== null && loss !== null ? [{ docId: r.docId, familiarity: base - loss }] : [];
  });
}

/** The model's scores of the first scores.length citations (higher: better) fused in as a third RRF term, then sorted again. */
export function fuseModelScores(citations: Citation[], scores: number[]): Citation[] {
  const order = scores.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i);
  const rank = new Map(order.map((o, r) => [o.i, r + 1]));
  return citations
    .map((c, i) => {
      const modelRank = rank.get(i);
      return modelRank ? { ...c, modelRank, score: c.score + MODEL_WEIGHT / (RRF_K + modelRank) } : c;
    })
    .sort((a, b) => b.score - a.score);
}
