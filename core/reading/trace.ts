// Surprise traces: what the model recorded while reading, per token and per memory chunk, stored
// compactly (float16 in the TITANSRD format, with its header and CRC) one piece per checkpoint, and
// a downsampled summary per piece for whole-book views. Pure data: no TensorFlow.js here, so the
// main process can read traces without loading the model.
import { decodeCheckpoint, encodeCheckpoint, type CheckpointTensor, type JsonValue } from '../../models/checkpoint/format.js';

/** Tokens per summary bucket (the whole-book view's resolution). */
export const SUMMARY_BUCKET = 64;
/** Alternatives kept per token: the model's likeliest next tokens where this one stands. */
export const TOP_K = 3;

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
  /** per token the TOP_K likeliest token ids there [n, TOP_K] (-1 where undefined), and their probabilities */
  top: Int32Array;
  topProb: Float32Array;
  /** layers that hold a memory, by layer index */
  layers: Array<{ layer: number } & LayerTrace>;
  chunkSize: number;
}

export function encodeTracePiece(p: TracePiece): Uint8Array {
  const n = p.offsets.length;
  const t: CheckpointTensor[] = [
    { name: 'offsets', shape: [n], data: p.offsets },
    { name: 'lm.surprisal', shape: [n], data: p.surprisal, dtype: 'float16' },
    { name: 'lm.rank', shape: [n], data: p.rank },
    { name: 'lm.top', shape: [n, TOP_K], data: p.top },
    { name: 'lm.topProb', shape: [n, TOP_K], data: p.topProb, dtype: 'float16' },
  ];
  for (const l of p.layers) {
    const pre = `l${l.layer}.`;
    for (const k of ['grad', 'loss', 'theta'] as const) t.push({ name: pre + k, shape: [n], data: l[k], dtype: 'float16' });
    for (const k of ['eta', 'alpha', 'momentum'] as const) t.push({ name: pre + k, shape: [l[k].length], data: l[k], dtype: 'float16' });
  }
  const meta = { startToken: p.startToken, chunkSize: p.chunkSize, layers: p.layers.map((l) => ({ layer: l.layer, firstChunk: l.firstChunk })) };
  return encodeCheckpoint({ kind: 'surprise-trace', meta: meta as unknown as JsonValue, tensors: t });
}

export function decodeTracePiece(bytes: Uint8Array): TracePiece {
  const c = decodeCheckpoint(bytes);
  const meta = c.meta as { startToken: number; chunkSize: number; layers: Array<{ layer: number; firstChunk: number }>; summary?: boolean };
  if (c.kind !== 'surprise-trace' || meta.summary) throw new Error('not a surprise trace piece');
  const get = new Map(c.tensors.map((t) => [t.name, t.data]));
  const f32 = (name: string) => get.get(name) as Float32Array;
  return {
    startToken: meta.startToken,
    chunkSize: meta.chunkSize,
    offsets: get.get('offsets') as Int32Array,
    surprisal: f32('lm.surprisal'),
    rank: get.get('lm.rank') as Int32Array,
    // pieces written before alternatives were kept have none
    top: (get.get('lm.top') as Int32Array | undefined) ?? new Int32Array(TOP_K * (get.get('offsets')?.length ?? 0)).fill(-1),
    topProb: f32('lm.topProb') ?? new Float32Array(TOP_K * (get.get('offsets')?.length ?? 0)).fill(NaN),
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
      { name: 'values', shape: [rows.length, width], data: values },
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
