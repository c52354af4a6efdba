// What the surprise views read: the per-token trace of a range of text (the reader's overlay and
// hover card), and the whole book's series downsampled to a number of points (the book and memory
// charts, zoomable). Decoded summaries are cached per reading, so zooming does not decode again.
import { modelSpec, readingWithTrace, traceStamp, traceSummaries, tracePiecesIn } from '../library/traces.js';
import type { OverlayTrace, ReadingState, SeriesPoint, TokenTrace } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { getSummary } from '../library/queries.js';
import { hasMemory, type ModelConfig } from '../../models/model/config.js';
import { tokenizerFromSpec, type Tokenizer, type TokenizerSpec } from '../../models/tokenizer/index.js';
import { finiteMax, finiteMean } from '../util/stats.js';
import { chunkOf, decodeSummary, decodeTracePiece, type SummaryRow, type TracePiece } from './trace.js';

export const MAX_TRACE_CHARS = 40_000;

export interface ReadingRef {
  modelId: string;
  modelName: string;
  status: ReadingState;
}

/** The reading to show: the given model's, else the latest that left a trace (finished ones first). */
export function readingFor(db: Db, docId: number, modelId?: string): ReadingRef {
  const doc = getSummary(db, docId);
  const r = readingWithTrace(db, docId, modelId) as ReadingRef | null;
  if (!r) {
    throw new ApiError(
      'not_found',
      modelId ? `“${doc.title}” has not been read by that model.` : `“${doc.title}” has not been read into memory yet.`,
      'Start reading it (Read in the library, or titans-reader read ID) and try again; partial readings count too.',
    );
  }
  return r;
}

const tokenizers = new Map<string, Tokenizer>();
function tokenizerOf(db: Db, modelId: string): Tokenizer {
  let t = tokenizers.get(modelId);
  if (!t) {
    const spec = modelSpec(db, modelId).tokenizer as TokenizerSpec;
    t = tokenizerFromSpec(spec);
    tokenizers.set(modelId, t);
  }
  return t;
}

/** A token as text for the hover card: its characters, or its bytes in hex where they are not whole characters. */
function tokenText(t: Tokenizer, id: number): string {
  if (id < 0) return '';
  const bytes = t.bytesOf(id);
  if (bytes.length === 0) return `<${id}>`;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  }
}

const num = (v: number) => (Number.isFinite(v) ? v : null);

/** The stored tokens that start in [start, end), in order; of a multi-byte character's byte tokens (one offset) only the first. */
function* tokensIn(db: Db, docId: number, modelId: string, start: number, end: number): Generator<{ p: TracePiece; i: number }> {
  if (end - start > MAX_TRACE_CHARS) throw new ApiError('bad_request', `Ask for at most ${MAX_TRACE_CHARS} characters of trace at a time.`);
  let last = -1;
  for (const data of tracePiecesIn(db, docId, modelId, start, end)) {
    const p = decodeTracePiece(data);
    for (let i = 0; i < p.offsets.length; i++) {
      const at = p.offsets[i]!;
      if (at < start || at >= end || at === last) continue;
      last = at;
      yield { p, i };
    }
  }
}

/** Every token that starts in [start, end), with its surprise, alternatives and the memory's signals there. */
export function traceRange(db: Db, docId: number, start: number, end: number, modelId?: string): TokenTrace {
  const reading = readingFor(db, docId, modelId);
  const tok = tokenizerOf(db, reading.modelId);
  const out: TokenTrace = { modelId: reading.modelId, modelName: reading.modelName, layers: memoryLayersOf(db, reading.modelId), tokens: [] };
  for (const { p, i } of tokensIn(db, docId, reading.modelId, start, end)) {
    out.tokens.push({
      index: p.startToken + i,
      start: p.offsets[i]!,
      surprisal: num(p.surprisal[i]!),
      rank: p.rank[i]! >= 0 ? p.rank[i]! : null,
      rankApprox: p.rank[i]! >= (p.rankExactBelow ?? Infinity),
      top: Array.from(p.top.subarray(3 * i, 3 * i + 3))
        .map((id, k) => ({ text: tokenText(tok, id), p: num(p.topProb[3 * i + k]!) }))
        .filter((a) => a.text !== ''),
      // a reading keeps only its most surprising tokens' alternatives (trace format 2); where a token had none (the document's first) there was nothing to keep
      topKept: !p.altKept || p.altKept[i] === 1 || !Number.isFinite(p.surprisal[i]!),
      memory: p.layers.map((l) => {
        const c = chunkOf(p, l, i);
        return { grad: num(l.grad[i]!), loss: num(l.loss[i]!), theta: num(l.theta[i]!), eta: c >= 0 ? num(l.eta[c]!) : null, alpha: c >= 0 ? num(l.alpha[c]!) : null, momentum: c >= 0 ? num(l.momentum[c]!) : null };
      }),
    });
  }
  return out;
}

/** What the overlay colours by, in columns (a block's worth stays small to send and parse): token starts, the model's surprisal, the memory's surprise per layer. */
export function overlayRange(db: Db, docId: number, start: number, end: number, modelId?: string): OverlayTrace {
  const reading = readingFor(db, docId, modelId);
  const layers = memoryLayersOf(db, reading.modelId);
  const out: OverlayTrace = { modelId: reading.modelId, layers, starts: [], surprisal: [], grad: layers.map(() => []) };
  for (const { p, i } of tokensIn(db, docId, reading.modelId, start, end)) {
    out.starts.push(p.offsets[i]!);
    out.surprisal.push(num(p.surprisal[i]!));
    p.layers.forEach((l, k) => out.grad[k]?.push(num(l.grad[i]!)));
  }
  return out;
}

// ---------------------------------------------------------------- the whole book, downsampled

const summaryCache = new Map<string, { rows: SummaryRow[]; key: string }>();

/** The reading's summary rows, in text order (cached while the trace does not grow). */
export function summaries(db: Db, docId: number, modelId: string): SummaryRow[] {
  const cacheKey = `${db.name}|${docId}|${modelId}`;
  // the cache is valid while the trace has not grown (a reading in progress adds pieces)
  // (the reading's last update too: a deleted document's id may come back with another text)
  const stamp = traceStamp(db, docId, modelId);
  const hit = summaryCache.get(cacheKey);
  if (hit && hit.key === stamp) return hit.rows;
  const rows = traceSummaries(db, docId, modelId).flatMap((b) => decodeSummary(b));
  if (summaryCache.size > 16) summaryCache.delete(summaryCache.keys().next().value!);
  summaryCache.set(cacheKey, { rows, key: stamp });
  return rows;
}


/** The series over [start, end) of the text in at most `points` points (means of means, maxima of maxima). */
/** The model's memory layers, by layer number (the order of every trace's and summary's layers). */
export function memoryLayersOf(db: Db, modelId: string): number[] {
  const config = modelSpec(db, modelId).config as ModelConfig;
  return Array.from({ length: config.layers }, (_, l) => l).filter((l) => hasMemory(config, l));
}

export function surpriseSeries(db: Db, docId: number, opts: { start?: number; end?: number; points: number; modelId?: string }): { modelId: string; modelName: string; status: ReadingState; layers: number[]; readChars: number; points: SeriesPoint[] } {
  const reading = readingFor(db, docId, opts.modelId);
  const all = summaries(db, docId, reading.modelId);
  const doc = getSummary(db, docId);
  const readChars = all.at(-1)?.endChar ?? 0;
  const layerIds = memoryLayersOf(db, reading.modelId);
  const start = Math.max(0, opts.start ?? 0);
  const end = Math.min(doc.chars, readChars, opts.end ?? doc.chars); // bins over what has been read
  const base = { modelId: reading.modelId, modelName: reading.modelName, status: reading.status, layers: layerIds, readChars };
  if (end <= start) return { ...base, points: [] };
  const rows = all.filter((r) => r.endChar > start && r.startChar < end);
  const L = layerIds.length;
  const bins = Math.max(1, Math.min(opts.points, rows.length));
  const width = (end - start) / bins;
  const groups: SummaryRow[][] = Array.from({ length: bins }, () => []);
  for (const r of rows) groups[Math.min(bins - 1, Math.max(0, Math.floor(((r.startChar + r.endChar) / 2 - start) / width)))]!.push(r);
  const points: SeriesPoint[] = [];
  for (const g of groups) {
    if (g.length === 0) continue;
    points.push({
      start: g[0]!.startChar,
      end: g[g.length - 1]!.endChar,
      lmMean: finiteMean(g.map((r) => r.lmMean)),
      lmMax: finiteMax(g.map((r) => r.lmMax)),
      memMean: finiteMean(g.map((r) => r.memMean)),
      memMax: finiteMax(g.map((r) => r.memMax)),
      layers: Array.from({ length: L }, (_, l) => {
        const ls = g.map((r) => r.layers[l]).filter((x) => x !== undefined);
        return {
          gradMean: finiteMean(ls.map((x) => x.gradMean)),
          gradMax: finiteMax(ls.map((x) => x.gradMax)),
          theta: finiteMean(ls.map((x) => x.theta)),
          eta: finiteMean(ls.map((x) => x.eta)),
          alpha: finiteMean(ls.map((x) => x.alpha)),
          momentum: finiteMean(ls.map((x) => x.momentum)),
        };
      }),
    });
  }
  return { ...base, points };
}
