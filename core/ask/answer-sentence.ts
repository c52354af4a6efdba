// The sentence that answers, in one book: its cited passages are cut into candidate sentences (one
// or two adjacent ones, core/ask/sentences.ts) and ranked in two stages.
//  1. Text: a linear scorer over sentence-level BM25, how much of the question a candidate covers
//     (in order, close together), what the sentences around it cover, the passage's rank, cues for
//     the kind of question; learned on the FairytaleQA train split (scripts/fit-sentence-ranker.ts).
//  2. The model: where the book has been read, what the model found while reading it with its
//     memory (the stored trace: each token's surprisal, -ln p(token | the book before it), and the
//     memory's surprise, the norm of its gradient), per candidate, standardized within the
//     question, fused with the first stage's score by a second scorer fit on train stories read
//     into memory. No extra model pass is needed at question time.
// The best sentences that do not overlap come back with their place in the book, a confidence
// (calibrated on the validation split) and a short answer within the first, shown when the span
// scorer and the sentence's confidence together are confident enough.
import type { AnswerSentence, Citation } from '../api/contract.js';
import type { Db } from '../library/database.js';
import { hasFinishedMemory } from '../library/memories.js';
import { placeOf } from '../library/queries.js';
import { overlayRange } from '../reading/inspect.js';
import { bookIdf } from './book-idf.js';
import { bestSpan, calibrated, distinctTop, featurize, rankCandidates, type Features, type RankerWeights } from './sentences.js';
import trained from './sentence-ranker.json' with { type: 'json' };

export interface Ranker extends RankerWeights {
  /** the second stage: 'lexical' (the first stage's score) and the model's signals (MODEL_FEATURES) */
  withModel?: RankerWeights;
}
export const RANKER = trained as unknown as Ranker;
/** sentences kept per book (the first is its answer) */
export const SENTENCES_PER_BOOK = 3;
/** what the second stage reads from the book's reading trace, per candidate (standardized within the question) */
export const MODEL_FEATURES = ['surprisal', 'memory', 'surprisalMax', 'memoryMax'] as const;
/** the most characters of trace read at once (the API's limit for one overlay request) */
const TRACE_SPAN = 40_000;

/** Per-token signals of a stretch of the book, as its reading stored them (null: not read). */
export type TraceSource = (start: number, end: number) => { starts: number[]; surprisal: Array<number | null>; memory: Array<number | null> } | null;

export interface SentenceChoice {
  sentences: AnswerSentence[];
  /** every candidate as ranked, with its features (for the harness and for fitting the scorer) */
  ranked: Array<{ text: string; features: Features; score: number; p: number; citation: number; start: number; end: number }>;
}

export interface ChooseOptions {
  /** the book's reading trace; absent or null: the text features alone */
  trace?: TraceSource | null;
  weights?: Ranker;
}

/** The answering sentences of one book among its citations (`indexes` into the question's citations, best first). */
export async function chooseSentences(db: Db, question: string, citations: readonly Citation[], indexes: readonly number[], o: ChooseOptions = {}): Promise<SentenceChoice> {
  const w = o.weights ?? RANKER;
  if (indexes.length === 0) return { sentences: [], ranked: [] };
  const docId = citations[indexes[0]!]!.docId;
  const passages = indexes.map((ci, r) => ({ text: citations[ci]!.text, rank: r + 1, bm25: citations[ci]!.bm25 }));
  const { candidates } = featurize(question, passages, bookIdf(db, [docId]));
  let ranked = rankCandidates(w, question, candidates);
  const signals = o.trace && w.withModel ? modelSignals(o.trace, citations, indexes, ranked) : null;
  const modelScored = signals !== null;
  if (signals) ranked = rankCandidates(w.withModel!, question, ranked.map((c, i) => ({ ...c, features: { ...c.features, lexical: c.score, ...signals[i]! } })));
  const best = distinctTop(ranked, SENTENCES_PER_BOOK);
  const calibrator = modelScored ? w.withModel! : w;
  const sentences = best.map((c, k): AnswerSentence => {
    const citation = citations[indexes[c.passage]!]!;
    const start = citation.start + c.start;
    const end = citation.start + c.end;
    const place = placeOf(db, docId, start);
    const confidence = calibrated(calibrator, c.p);
    let span: AnswerSentence['span'] = null;
    if (k === 0 && w.spanWeights) {
      const raw = citation.text.slice(c.start, c.end);
      const s = bestSpan(w.spanWeights, question, raw);
      if (s) {
        const p = spanConfidence(w, confidence, s.p);
        span = { start: start + s.start, end: start + s.end, text: s.text.replace(/\s+/g, ' '), confidence: p, shown: p >= (w.spanThreshold ?? 1.01) };
      }
    }
    return { docId, title: citation.title, rank: k, citation: indexes[c.passage]!, start, end, line: citation.line + countNewlines(citation.text.slice(0, c.start)), page: place.page, chapter: place.chapter, text: c.text, confidence, modelScored, span };
  });
  return { sentences, ranked: ranked.map((c) => ({ text: c.text, features: c.features, score: c.score, p: c.p, citation: indexes[c.passage]!, start: c.start, end: c.end })) };
}

/** The reading's signals for each candidate (mean and maximum over its tokens), standardized within the question; null when any candidate is unread. */
export function modelSignals(trace: TraceSource, citations: readonly Citation[], indexes: readonly number[], candidates: ReadonlyArray<{ passage: number; start: number; end: number }>): Array<Record<string, number>> | null {
  // one read of the trace over all the passages when they lie close together (each read decodes whole stored pieces)
  const lo = Math.min(...indexes.map((ci) => citations[ci]!.start));
  const hi = Math.max(...indexes.map((ci) => citations[ci]!.end));
  const all = hi - lo <= TRACE_SPAN ? trace(lo, hi) : null;
  const traces = all ? indexes.map(() => all) : indexes.map((ci) => trace(citations[ci]!.start, citations[ci]!.end));
  if (traces.some((t) => t === null)) return null;
  const raw: number[][] = [];
  for (const c of candidates) {
    const t = traces[c.passage]!;
    const a = citations[indexes[c.passage]!]!.start + c.start;
    const b = a + (c.end - c.start);
    let n = 0, sum = 0, max = -Infinity, m = 0, msum = 0, mmax = -Infinity;
    t.starts.forEach((st, i) => {
      if (st < a || st >= b) return;
      const s = t.surprisal[i];
      if (s !== null && s !== undefined && Number.isFinite(s)) {
        n++;
        sum += s;
        max = Math.max(max, s);
      }
      const g = t.memory[i];
      if (g !== null && g !== undefined && Number.isFinite(g)) {
        m++;
        msum += g;
        mmax = Math.max(mmax, g);
      }
    });
    if (n === 0) return null;
    raw.push([sum / n, m ? msum / m : 0, max, m ? mmax : 0]);
  }
  const cols = MODEL_FEATURES.map((_, j) => {
    const xs = raw.map((r) => r[j]!);
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length) || 1;
    return xs.map((x) => (x - mean) / sd);
  });
  return raw.map((_, i) => Object.fromEntries(MODEL_FEATURES.map((f, j) => [f, cols[j]![i]!])));
}

/** The book's reading trace (the latest finished reading), or null when it has not been read to the end. */
export function readingTrace(db: Db, docId: number): TraceSource | null {
  if (!hasFinishedMemory(db, docId)) return null;
  return (start, end) => {
    try {
      const o = overlayRange(db, docId, start, end);
      // the memory's surprise, averaged over its layers
      const memory = o.starts.map((_, i) => {
        const gs = o.grad.map((l) => l[i]).filter((g): g is number => g !== null && g !== undefined && Number.isFinite(g));
        return gs.length ? gs.reduce((a, g) => a + g, 0) / gs.length : null;
      });
      return { starts: o.starts, surprisal: o.surprisal, memory };
    } catch {
      return null;
    }
  };
}

/** P(the short answer is right): the span scorer's probability and the sentence's confidence, combined as fit on val. */
export function spanConfidence(w: RankerWeights, sentence: number, span: number): number {
  const c = w.spanCalibration ?? { a: 1, b: 1, c: 0 };
  const logit = (p: number) => Math.log(Math.max(1e-6, p) / Math.max(1e-6, 1 - p));
  return 1 / (1 + Math.exp(-(c.a * logit(sentence) + c.b * logit(span) + c.c)));
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export type Ablation = 'no-model' | 'no-bm25' | 'no-passage-rank' | 'no-coverage';

/** The weights an ablation ranks with: retrained without that signal (sentence-ranker.json's ablations). */
export function weightsFor(ablation: Ablation | undefined): Ranker {
  if (!ablation) return RANKER;
  if (ablation === 'no-model') return { ...RANKER, withModel: undefined };
  const w = RANKER.ablations?.[ablation];
  if (!w) throw new Error(`sentence-ranker.json has no weights for the ablation ${ablation}`);
  return { ...w, spanWeights: RANKER.spanWeights, spanThreshold: RANKER.spanThreshold, spanCalibration: RANKER.spanCalibration };
}

/**
 * Each answering book's sentences (the first maxBooks books among the citations, in the order of
 * their best citation), with the model's signals where the book has been read (memory: true).
 */
export async function answerSentences(db: Db, question: string, citations: readonly Citation[], o: { maxBooks: number; memory: boolean; ablation?: Ablation }): Promise<AnswerSentence[]> {
  const books: Array<{ docId: number; indexes: number[] }> = [];
  citations.forEach((c, i) => {
    const b = books.find((x) => x.docId === c.docId);
    if (b) b.indexes.push(i);
    else books.push({ docId: c.docId, indexes: [i] });
  });
  const weights = weightsFor(o.ablation);
  const out: AnswerSentence[] = [];
  for (const b of books.slice(0, o.maxBooks)) {
    const trace = o.memory && weights.withModel ? readingTrace(db, b.docId) : null;
    const r = await chooseSentences(db, question, citations, b.indexes, { trace, weights });
    out.push(...r.sentences);
  }
  return out;
}
