// Surprise traces: what the model recorded while reading, per token and per memory chunk, stored
// compactly in the TITANSRD format (with its header and CRC) one piece per checkpoint, and a
// downsampled summary per piece for whole-book views. Pure data: no TensorFlow.js here, so the
// main process can read traces without loading the model.
//
// A piece's format (meta.format; see TRACE_FORMAT), 11.5 bytes a token with two memory layers:
//   offsets       1 byte a token: the step from the previous token's offset (0..254), 255 = a step
//                 stored exactly in `offsets.far` (the first token, a page break, skipped markup)
//   surprisal     float16 (the views colour by it)
//   rank          1 byte: exact below RANK_EXACT_BELOW, above that a log-spaced code (within
//                 RANK_REL_ERROR) up to meta.rank.top; 255 = undefined
//   lN.token      per memory layer grad, loss, theta: 1 byte a token each, log-quantized per piece
//                 (logQuantize; the ranges in meta.log)
//   lN.chunk      per memory layer eta, alpha, ||S||: 1 byte a chunk each, log-quantized likewise
//   alt.*         the TOP_K likeliest tokens (uint16) and their probabilities (log-quantized) only
//                 for the most surprising KEEP_ALTERNATIVES of the piece's tokens, their indices
//                 coded as steps like the offsets
// Format 1 (no meta.format; libraries written before) stored int32 offsets and ranks, every
// token's alternatives and the memory's signals in float16 (about 40 bytes a token); it still reads.
import { decodeCheckpoint, encodeCheckpoint, type CheckpointTensor, type JsonValue } from '../../models/checkpoint/format.js';

/** Tokens per summary bucket (the whole-book view's resolution). */
export const SUMMARY_BUCKET = 64;
/** Alternatives kept per token: the model's likeliest next tokens where this one stands. */
export const TOP_K = 3;
/** The piece format encodeTracePiece writes; decodeTracePiece reads it and every older one. */
export const TRACE_FORMAT = 2;
/** Share of a piece's tokens, its most surprising, whose alternatives are stored (by default). */
export const KEEP_ALTERNATIVES = 0.1;
/** Ranks below this are stored exactly; larger ones to within RANK_REL_ERROR. */
export const RANK_EXACT_BELOW = 128;
/** The log-spaced rank codes reach this rank; larger ranks (vocabularies over a million) saturate. */
export const RANK_TOP = 1 << 20;
/** Bound on |stored - true| / true of a rank at or above RANK_EXACT_BELOW (and below RANK_TOP). */
export const RANK_REL_ERROR = 0.04;
/** The widest range of a log-quantized tensor, in nats of its values: values below its largest
 * times e^-LOG_SPAN (1.1e-7) are stored as that floor. Bounds the relative error at LOG_REL_ERROR. */
export const LOG_SPAN = 16;
/** Bound on the relative error of a log-quantized value (within LOG_SPAN of its tensor's largest):
 * half a step of LOG_SPAN / 253 in ln (and 1e-6 for the range's rounding), e^(16/506) - 1 = 3.2%;
 * a piece with a narrower range does better. */
export const LOG_REL_ERROR = Math.expm1(LOG_SPAN / 506 + 1e-6);

export interface LayerTrace {
  /** per token ||grad_W l_t|| over all fast-weight tensors (the memory's momentary surprise), mean over memory heads; NaN where no chunk was stored */
  grad: Float32Array;
  /** per token the memory's own loss l_t = ||M(k_t) - v_t||^2 */
  loss: Float32Array;
  /** per token the learning-rate gate theta_t */
  theta: Float32Array;
  /** absolute index of the first chunk in eta/alpha/momentum */
  firstChunk: number;
  /** per chunk the momentum gate eta_n, the forgetting gate alpha_n and ||S_n|| */
  eta: Float32Array;
  alpha: Float32Array;
  momentum: Float32Array;
}

export interface TracePiece {
  /** absolute token index of the first token */
  startToken: number;
  /** per token the UTF-16 offset in the document where it starts */
  offsets: Int32Array;
  /** per token -ln p(token | everything before it) under the model, in nats; NaN for the first token of the document */
  surprisal: Float32Array;
  /** per token how many tokens the model found more likely (0: its top guess); -1 where undefined */
  rank: Int32Array;
  /** ranks at or above this are approximate (within RANK_REL_ERROR); absent: every rank is exact */
  rankExactBelow?: number;
  /** per token the TOP_K likeliest token ids there [n, TOP_K] (-1 where undefined or not kept), and their probabilities (NaN there) */
  top: Int32Array;
  topProb: Float32Array;
  /** per token 1 where its alternatives were kept, 0 where they were not stored (only the most
   * surprising tokens' are); absent: every token's were kept */
  altKept?: Uint8Array;
  /** layers that hold a memory, by layer index */
  layers: Array<{ layer: number } & LayerTrace>;
  chunkSize: number;
}

export interface EncodeTraceOptions {
  /** share of the tokens (the most surprising) whose alternatives are stored; default KEEP_ALTERNATIVES, 1 keeps all */
  keepAlternatives?: number;
}

// ---------------------------------------------------------------- 1-byte codes

/** Log-quantization to one byte: 0 is exactly 0, 255 is NaN, 1..254 are ln(v) in 253 equal steps
 * over [lo, hi] (the tensor's smallest and largest ln, the span capped at LOG_SPAN). Null when the
 * values do not fit (a negative or infinite value): such a tensor is stored as float16. */
export function logQuantize(a: Float32Array): { codes: Int32Array; lo: number; hi: number } | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (Number.isNaN(v) || v === 0) continue;
    if (!(v > 0) || v === Infinity) return null;
    const l = Math.log(v);
    if (l < lo) lo = l;
    if (l > hi) hi = l;
  }
  if (hi === -Infinity) lo = hi = 0;
  // to 6 decimals down (a short header; no value decodes above the largest), the span capped
  const top = Math.floor(hi * 1e6);
  hi = top / 1e6;
  lo = Math.max(Math.floor(lo * 1e6), top - LOG_SPAN * 1e6) / 1e6;
  const step = (hi - lo) / 253;
  const codes = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    codes[i] = Number.isNaN(v) ? 255 : v === 0 ? 0 : 1 + (step > 0 ? Math.min(253, Math.round((Math.max(Math.log(v), lo) - lo) / step)) : 0);
  }
  return { codes, lo, hi };
}

export function logDequantize(codes: Int32Array, lo: number, hi: number): Float32Array {
  const step = (hi - lo) / 253;
  const table = new Float32Array(256);
  for (let c = 1; c < 255; c++) table[c] = Math.exp(lo + (c - 1) * step);
  table[255] = NaN;
  return Float32Array.from(codes, (c) => table[c]!);
}

interface RankCode {
  exactBelow: number;
  top: number;
}

const rankGrowth = (r: RankCode) => Math.log(r.top / r.exactBelow) / (255 - r.exactBelow);

/** A rank's 1-byte code: itself below exactBelow, then 255 - exactBelow log-spaced buckets up to top; 255 = undefined. */
export function rankCode(rank: number, r: RankCode = { exactBelow: RANK_EXACT_BELOW, top: RANK_TOP }): number {
  if (!(rank >= 0)) return 255;
  if (rank < r.exactBelow) return rank;
  const k = Math.floor(Math.log(rank / r.exactBelow) / rankGrowth(r));
  return r.exactBelow + Math.min(254 - r.exactBelow, k);
}

/** The rank a code stands for: exact below exactBelow, else its bucket's geometric middle. */
export function rankOfCode(code: number, r: RankCode = { exactBelow: RANK_EXACT_BELOW, top: RANK_TOP }): number {
  if (code === 255) return -1;
  if (code < r.exactBelow) return code;
  return Math.round(r.exactBelow * Math.exp((code - r.exactBelow + 0.5) * rankGrowth(r)));
}

// ---------------------------------------------------------------- pieces

/** The tokens whose alternatives are kept: the most surprising share of those that have any, in order. */
function alternativesToKeep(p: TracePiece, share: number): Int32Array {
  const n = p.offsets.length;
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(p.surprisal[i]!) && p.top[TOP_K * i]! >= 0 && (!p.altKept || p.altKept[i])) candidates.push(i);
  }
  const k = Math.min(candidates.length, Math.ceil(Math.max(0, Math.min(1, share)) * n));
  candidates.sort((a, b) => p.surprisal[b]! - p.surprisal[a]! || a - b);
  return Int32Array.from(candidates.slice(0, k)).sort();
}

interface PieceMeta {
  format?: number;
  startToken: number;
  chunkSize: number;
  layers: Array<{ layer: number; firstChunk: number }>;
  summary?: boolean;
  /** format 2: [lo, hi] of each log-quantized tensor's rows */
  log?: Record<string, Array<[number, number]>>;
  rank?: RankCode;
}

/** A rising sequence of integers (offsets, indices) in 1 byte each: the step from the one before
 * (from 0 for the first), 255 = a step stored exactly in `NAME.far` as [index, step]. */
function putSteps(t: CheckpointTensor[], name: string, values: Int32Array): void {
  const steps = new Int32Array(values.length);
  const far: number[] = [];
  for (let i = 0, prev = 0; i < values.length; i++) {
    const d = values[i]! - prev;
    prev = values[i]!;
    if (d >= 0 && d < 255) steps[i] = d;
    else {
      steps[i] = 255;
      far.push(i, d);
    }
  }
  t.push({ name: `${name}.step`, shape: [values.length], data: steps, dtype: 'uint8' });
  if (far.length) t.push({ name: `${name}.far`, shape: [far.length / 2, 2], data: Int32Array.from(far) });
}

function getSteps(get: (name: string) => Int32Array | undefined, name: string): Int32Array {
  const steps = get(`${name}.step`);
  if (!steps) throw new Error(`surprise trace piece without "${name}"`);
  const far = get(`${name}.far`) ?? new Int32Array(0);
  const out = new Int32Array(steps.length);
  for (let i = 0, prev = 0, f = 0; i < steps.length; i++) {
    let d = steps[i]!;
    if (d === 255) {
      if (far[2 * f] !== i) throw new Error(`surprise trace piece: "${name}" ${i} has no stored step`);
      d = far[2 * f + 1]!;
      f++;
    }
    out[i] = prev += d;
  }
  return out;
}

export function encodeTracePiece(p: TracePiece, opts: EncodeTraceOptions = {}): Uint8Array {
  const n = p.offsets.length;
  const t: CheckpointTensor[] = [];
  const log: Record<string, Array<[number, number]>> = {};
  /** rows of equal length as one tensor [rows, length]: log-quantized, or float16 where a row cannot be */
  const putLog = (name: string, rows: Float32Array[]) => {
    const len = rows[0]!.length;
    const q = rows.map(logQuantize);
    const all = (k: number) => rows.flatMap((r, j) => (k ? Array.from(q[j]!.codes) : Array.from(r)));
    if (q.every((x) => x !== null)) {
      t.push({ name, shape: [rows.length, len], data: Int32Array.from(all(1)), dtype: 'uint8' });
      log[name] = q.map((x) => [x!.lo, x!.hi]);
    } else {
      t.push({ name, shape: [rows.length, len], data: Float32Array.from(all(0)), dtype: 'float16' });
    }
  };

  putSteps(t, 'offsets', p.offsets);
  const rank: RankCode = { exactBelow: RANK_EXACT_BELOW, top: RANK_TOP };
  t.push({ name: 'lm.surprisal', shape: [n], data: p.surprisal, dtype: 'float16' });
  t.push({ name: 'lm.rank', shape: [n], data: Int32Array.from(p.rank, (r) => rankCode(r, rank)), dtype: 'uint8' });

  // alternatives of the most surprising tokens; ids + 1 (0: none)
  const kept = alternativesToKeep(p, opts.keepAlternatives ?? KEEP_ALTERNATIVES);
  const ids = new Int32Array(kept.length * TOP_K);
  const probs = new Float32Array(kept.length * TOP_K);
  kept.forEach((i, j) => {
    for (let k = 0; k < TOP_K; k++) {
      ids[j * TOP_K + k] = Math.max(-1, p.top[i * TOP_K + k]!) + 1;
      probs[j * TOP_K + k] = p.topProb[i * TOP_K + k]!;
    }
  });
  putSteps(t, 'alt.index', kept);
  t.push({ name: 'alt.ids', shape: [kept.length, TOP_K], data: ids, dtype: ids.every((v) => v <= 0xffff) ? 'uint16' : 'int32' });
  putLog('alt.prob', [probs]);

  // per memory layer: its per-token signals [grad, loss, theta] and per-chunk gates [eta, alpha, ||S||]
  for (const l of p.layers) {
    putLog(`l${l.layer}.token`, [l.grad, l.loss, l.theta]);
    putLog(`l${l.layer}.chunk`, [l.eta, l.alpha, l.momentum]);
  }
  const meta: PieceMeta = { format: TRACE_FORMAT, startToken: p.startToken, chunkSize: p.chunkSize, layers: p.layers.map((l) => ({ layer: l.layer, firstChunk: l.firstChunk })), log, rank };
  return encodeCheckpoint({ kind: 'surprise-trace', meta: meta as unknown as JsonValue, tensors: t });
}

export function decodeTracePiece(bytes: Uint8Array): TracePiece {
  const c = decodeCheckpoint(bytes);
  const meta = c.meta as unknown as PieceMeta;
  if (c.kind !== 'surprise-trace' || meta.summary) throw new Error('not a surprise trace piece');
  const format = meta.format ?? 1;
  if (format > TRACE_FORMAT) throw new Error(`this surprise trace was written by a newer version of Titans Reader (trace format ${format}; this version reads up to ${TRACE_FORMAT}): update the app`);
  const get = new Map(c.tensors.map((x) => [x.name, x]));
  const f32 = (name: string) => get.get(name)?.data as Float32Array;
  const i32 = (name: string) => get.get(name)?.data as Int32Array;
  if (format === 1) return decodeFormat1(meta, f32, i32);

  /** the rows of a tensor putLog wrote */
  const rows = (name: string): Float32Array[] => {
    const x = get.get(name);
    if (!x) throw new Error(`surprise trace piece without "${name}"`);
    const [R, len] = x.shape as [number, number];
    return Array.from({ length: R }, (_, r) => {
      if (x.dtype !== 'uint8') return (x.data as Float32Array).slice(r * len, (r + 1) * len);
      const [lo, hi] = meta.log![name]![r]!;
      return logDequantize((x.data as Int32Array).subarray(r * len, (r + 1) * len), lo, hi);
    });
  };
  const offsets = getSteps(i32, 'offsets');
  const n = offsets.length;
  const rank = Int32Array.from(i32('lm.rank'), (code) => rankOfCode(code, meta.rank!));

  const top = new Int32Array(n * TOP_K).fill(-1);
  const topProb = new Float32Array(n * TOP_K).fill(NaN);
  const altKept = new Uint8Array(n);
  const kept = getSteps(i32, 'alt.index');
  const ids = i32('alt.ids');
  const [probs] = rows('alt.prob') as [Float32Array];
  kept.forEach((i, j) => {
    altKept[i] = 1;
    for (let k = 0; k < TOP_K; k++) {
      top[i * TOP_K + k] = ids[j * TOP_K + k]! - 1;
      topProb[i * TOP_K + k] = probs[j * TOP_K + k]!;
    }
  });
  return {
    startToken: meta.startToken,
    chunkSize: meta.chunkSize,
    offsets,
    surprisal: f32('lm.surprisal'),
    rank,
    rankExactBelow: meta.rank!.exactBelow,
    top,
    topProb,
    altKept,
    layers: meta.layers.map(({ layer, firstChunk }) => {
      const [grad, loss, theta] = rows(`l${layer}.token`) as [Float32Array, Float32Array, Float32Array];
      const [eta, alpha, momentum] = rows(`l${layer}.chunk`) as [Float32Array, Float32Array, Float32Array];
      return { layer, firstChunk, grad, loss, theta, eta, alpha, momentum };
    }),
  };
}

/** Format 1: int32 offsets and ranks, float16 everywhere else, every token's alternatives (or none, in the oldest pieces). */
function decodeFormat1(meta: PieceMeta, f32: (name: string) => Float32Array, i32: (name: string) => Int32Array): TracePiece {
  const n = i32('offsets').length;
  return {
    startToken: meta.startToken,
    chunkSize: meta.chunkSize,
    offsets: i32('offsets'),
    surprisal: f32('lm.surprisal'),
    rank: i32('lm.rank'),
    // pieces written before alternatives were kept have none
    top: i32('lm.top') ?? new Int32Array(TOP_K * n).fill(-1),
    topProb: f32('lm.topProb') ?? new Float32Array(TOP_K * n).fill(NaN),
    layers: meta.layers.map(({ layer, firstChunk }) => {
      const pre = `l${layer}.`;
      return { layer, firstChunk, grad: f32(pre + 'grad'), loss: f32(pre + 'loss'), theta: f32(pre + 'theta'), eta: f32(pre + 'eta'), alpha: f32(pre + 'alpha'), momentum: f32(pre + 'momentum') };
    }),
  };
}

export interface LayerSummary {
  /** mean and max of the memory's surprise ||grad l_t|| */
  gradMean: number;
  gradMax: number;
  /** means of the learning rate theta, and of the chunks' momentum eta, forgetting alpha and ||S|| */
  theta: number;
  eta: number;
  alpha: number;
  momentum: number;
}

export interface SummaryRow {
  startChar: number;
  endChar: number;
  /** mean and max of the model's surprisal (nats) over the bucket */
  lmMean: number;
  lmMax: number;
  /** mean and max of the memory's surprise, averaged over layers */
  memMean: number;
  memMax: number;
  /** per memory layer, in the order of the piece's layers */
  layers: LayerSummary[];
}

/** Index into a layer's per-chunk arrays of the chunk that stores token i of the piece, or -1. */
export function chunkOf(p: TracePiece, l: LayerTrace, i: number): number {
  const c = Math.floor((p.startToken + i) / p.chunkSize) - l.firstChunk;
  return c >= 0 && c < l.eta.length ? c : -1;
}

/**
 * The downsampled view of a piece: one row per SUMMARY_BUCKET tokens with its character range,
 * the mean and max of the model's surprisal and of the memory's surprise (averaged over layers),
 * and per layer the memory's surprise and gates.
 */
export function summarize(p: TracePiece, endChar: number): SummaryRow[] {
  const n = p.offsets.length;
  const rows: SummaryRow[] = [];
  for (let from = 0; from < n; from += SUMMARY_BUCKET) {
    const to = Math.min(n, from + SUMMARY_BUCKET);
    const lm = stats(p.surprisal, from, to);
    const mem = new Float32Array(to - from);
    for (let i = from; i < to; i++) {
      let v = 0;
      let k = 0;
      for (const l of p.layers) {
        if (Number.isFinite(l.grad[i]!)) {
          v += l.grad[i]!;
          k++;
        }
      }
      mem[i - from] = k ? v / k : NaN;
    }
    const m = stats(mem, 0, mem.length);
    const layers = p.layers.map((l): LayerSummary => {
      const g = stats(l.grad, from, to);
      const chunks = new Set<number>();
      for (let i = from; i < to; i++) {
        const c = chunkOf(p, l, i);
        if (c >= 0) chunks.add(c);
      }
      const mean = (a: Float32Array) => (chunks.size ? [...chunks].reduce((s, c) => s + a[c]!, 0) / chunks.size : NaN);
      return { gradMean: g.mean, gradMax: g.max, theta: stats(l.theta, from, to).mean, eta: mean(l.eta), alpha: mean(l.alpha), momentum: mean(l.momentum) };
    });
    rows.push({ startChar: p.offsets[from]!, endChar: to < n ? p.offsets[to]! : endChar, lmMean: lm.mean, lmMax: lm.max, memMean: m.mean, memMax: m.max, layers });
  }
  return rows;
}

function stats(a: Float32Array, from: number, to: number): { mean: number; max: number } {
  let sum = 0;
  let count = 0;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    const v = a[i]!;
    if (!Number.isFinite(v)) continue;
    sum += v;
    count++;
    if (v > max) max = v;
  }
  return count ? { mean: sum / count, max } : { mean: NaN, max: NaN };
}

const VALUES = ['lmMean', 'lmMax', 'memMean', 'memMax'] as const;
const LAYER_VALUES = ['gradMean', 'gradMax', 'theta', 'eta', 'alpha', 'momentum'] as const;

export function encodeSummary(rows: SummaryRow[]): Uint8Array {
  const L = rows[0]?.layers.length ?? 0;
  const width = VALUES.length + L * LAYER_VALUES.length;
  const chars = new Int32Array(rows.length * 2);
  const values = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    chars[2 * i] = r.startChar;
    chars[2 * i + 1] = r.endChar;
    const v = values.subarray(i * width);
    VALUES.forEach((k, j) => (v[j] = r[k]));
    r.layers.forEach((l, li) => LAYER_VALUES.forEach((k, j) => (v[VALUES.length + li * LAYER_VALUES.length + j] = l[k])));
  });
  return encodeCheckpoint({
    kind: 'surprise-trace',
    meta: { summary: true, bucket: SUMMARY_BUCKET, values: [...VALUES], layers: L, layerValues: [...LAYER_VALUES] },
    tensors: [
      { name: 'chars', shape: [rows.length, 2], data: chars },
      // float16 (plenty for charts) unless a value would overflow it; decodeSummary reads either
      { name: 'values', shape: [rows.length, width], data: values, dtype: values.every((v) => !(Math.abs(v) > 65504)) ? 'float16' : 'float32' },
    ],
  });
}

export function decodeSummary(bytes: Uint8Array): SummaryRow[] {
  const c = decodeCheckpoint(bytes);
  const L = (c.meta as { layers?: number }).layers ?? 0;
  const width = VALUES.length + L * LAYER_VALUES.length;
  const chars = c.tensors.find((t) => t.name === 'chars')!.data as Int32Array;
  const values = c.tensors.find((t) => t.name === 'values')!.data as Float32Array;
  const rows: SummaryRow[] = [];
  for (let i = 0; i < chars.length / 2; i++) {
    const v = values.subarray(i * width, (i + 1) * width);
    const layers = Array.from({ length: L }, (_, li): LayerSummary => {
      const o = VALUES.length + li * LAYER_VALUES.length;
      return { gradMean: v[o]!, gradMax: v[o + 1]!, theta: v[o + 2]!, eta: v[o + 3]!, alpha: v[o + 4]!, momentum: v[o + 5]! };
    });
    rows.push({ startChar: chars[2 * i]!, endChar: chars[2 * i + 1]!, lmMean: v[0]!, lmMax: v[1]!, memMean: v[2]!, memMax: v[3]!, layers });
  }
  return rows;
}
