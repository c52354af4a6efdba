// The surprise trace's storage (issue 17, "storage per book"): a realistic piece (8,192 tokens, a
// BPE vocabulary of 8,452, two memory layers with chunks of 32) takes at most 12 bytes a token,
// round-trips within the stated bounds (offsets exact, ranks exact below RANK_EXACT_BELOW, the
// memory's signals within LOG_REL_ERROR, alternatives exactly where kept and marked absent
// elsewhere), and pieces in the format libraries hold from before (format 1) still decode.
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointTensor, type JsonValue } from '../../../models/checkpoint/format.js';
import {
  decodeSummary,
  decodeTracePiece,
  encodeSummary,
  encodeTracePiece,
  KEEP_ALTERNATIVES,
  LOG_REL_ERROR,
  logDequantize,
  logQuantize,
  RANK_EXACT_BELOW,
  RANK_REL_ERROR,
  RANK_TOP,
  rankCode,
  rankOfCode,
  summarize,
  TOP_K,
  TRACE_FORMAT,
  type TracePiece,
} from '../../../core/reading/trace.js';
import { rng } from '../../helpers/models.js';

const VOCAB = 8452;
const CHUNK = 32;

/** A piece like the BPE model's on a book: ~4 characters a token, a few tokens sharing an offset,
 * page breaks and skipped markup (steps over 255), ranks mostly small with a long tail up to the
 * vocabulary, lognormal memory signals, gates in (0, 1), NaN where no chunk was stored. */
function realisticPiece(n = 8192, startToken = 40_960, first = 187_311): TracePiece {
  const r = rng(17);
  const offsets = new Int32Array(n);
  let at = first;
  for (let i = 0; i < n; i++) {
    if (i > 0) at += r.uniform() < 0.02 ? 0 : r.uniform() < 0.003 ? 256 + Math.floor(r.uniform() * 5000) : 1 + Math.floor(r.uniform() * 8);
    offsets[i] = at;
  }
  const surprisal = Float32Array.from({ length: n }, () => Math.max(0.001, 4.2 + 2.5 * r.normal()));
  const rank = Int32Array.from(surprisal, (s) => Math.min(VOCAB - 1, Math.floor(Math.exp(s * (0.6 + 0.5 * r.uniform())) - 1)));
  const top = new Int32Array(n * TOP_K);
  const topProb = new Float32Array(n * TOP_K);
  for (let i = 0; i < n; i++) {
    let p = 0.05 + 0.9 * r.uniform();
    for (let k = 0; k < TOP_K; k++) {
      top[i * TOP_K + k] = Math.floor(r.uniform() * VOCAB);
      topProb[i * TOP_K + k] = p;
      p *= 0.02 + 0.9 * r.uniform();
    }
  }
  const lognormal = (mu: number, sigma: number) => Float32Array.from({ length: n }, () => Math.exp(mu + sigma * r.normal()));
  const firstChunk = Math.floor(startToken / CHUNK);
  const chunks = Math.floor(n / CHUNK);
  const layers = [0, 1].map((layer) => {
    const grad = lognormal(-1, 1.2);
    const loss = lognormal(0.5, 0.8);
    const theta = Float32Array.from({ length: n }, () => 0.001 + 0.05 * r.uniform());
    for (let i = chunks * CHUNK; i < n; i++) grad[i] = loss[i] = theta[i] = NaN; // the last partial chunk is not stored
    const gate = () => Float32Array.from({ length: chunks }, () => r.uniform());
    return { layer, grad, loss, theta, firstChunk, eta: gate(), alpha: gate(), momentum: Float32Array.from({ length: chunks }, () => 10 * r.uniform()) };
  });
  return { startToken, offsets, surprisal, rank, top, topProb, layers, chunkSize: CHUNK };
}

/** The bytes the reader wrote before this format (format 1), built here as that encoder did. */
function format1Bytes(p: TracePiece, withAlternatives = true): Uint8Array {
  const n = p.offsets.length;
  const t: CheckpointTensor[] = [
    { name: 'offsets', shape: [n], data: p.offsets },
    { name: 'lm.surprisal', shape: [n], data: p.surprisal, dtype: 'float16' },
    { name: 'lm.rank', shape: [n], data: p.rank },
  ];
  if (withAlternatives) {
    t.push({ name: 'lm.top', shape: [n, TOP_K], data: p.top }, { name: 'lm.topProb', shape: [n, TOP_K], data: p.topProb, dtype: 'float16' });
  }
  for (const l of p.layers) {
    const pre = `l${l.layer}.`;
    for (const k of ['grad', 'loss', 'theta'] as const) t.push({ name: pre + k, shape: [n], data: l[k], dtype: 'float16' });
    for (const k of ['eta', 'alpha', 'momentum'] as const) t.push({ name: pre + k, shape: [l[k].length], data: l[k], dtype: 'float16' });
  }
  const meta = { startToken: p.startToken, chunkSize: p.chunkSize, layers: p.layers.map((l) => ({ layer: l.layer, firstChunk: l.firstChunk })) };
  return encodeCheckpoint({ kind: 'surprise-trace', meta: meta as unknown as JsonValue, tensors: t });
}

const relErr = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

function expectLogClose(got: Float32Array, want: Float32Array, bound = LOG_REL_ERROR + 1e-6): void {
  expect(got).toHaveLength(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (Number.isNaN(w)) expect(got[i]).toBeNaN();
    else if (w === 0) expect(got[i]).toBe(0);
    else expect(relErr(got[i]!, w), `value ${i}: ${got[i]} for ${w}`).toBeLessThanOrEqual(bound);
  }
}

describe('surprise trace pieces', () => {
  it('take at most 12 bytes a token for a realistic piece (2 memory layers, 8K vocabulary), against ~40 before', () => {
    const p = realisticPiece();
    const n = p.offsets.length;
    const now = encodeTracePiece(p).length / n;
    const before = format1Bytes(p).length / n;
    expect(now).toBeLessThanOrEqual(12);
    expect(before).toBeGreaterThan(39);
    // the summary beside it (float16 values): under a byte a token
    expect(encodeSummary(summarize(p, p.offsets[n - 1]! + 3)).length / n).toBeLessThan(1);
  });

  it('round-trip: offsets exact (steps over 255 too), surprisal in float16, ranks exact below 128 and within 4% above, the memory signals and gates within the log bound', () => {
    const p = realisticPiece();
    const n = p.offsets.length;
    const d = decodeTracePiece(encodeTracePiece(p));
    expect(d.startToken).toBe(p.startToken);
    expect(d.chunkSize).toBe(CHUNK);
    expect(Array.from(d.offsets)).toEqual(Array.from(p.offsets));
    expect(p.offsets.some((o, i) => i > 0 && o - p.offsets[i - 1]! > 255)).toBe(true); // the piece has such steps
    for (let i = 0; i < n; i++) expect(relErr(d.surprisal[i]!, p.surprisal[i]!)).toBeLessThanOrEqual(2 ** -11);
    expect(d.rankExactBelow).toBe(RANK_EXACT_BELOW);
    let approximate = 0;
    for (let i = 0; i < n; i++) {
      if (p.rank[i]! < RANK_EXACT_BELOW) expect(d.rank[i]).toBe(p.rank[i]);
      else {
        approximate++;
        expect(relErr(d.rank[i]!, p.rank[i]!)).toBeLessThanOrEqual(RANK_REL_ERROR);
      }
    }
    expect(approximate).toBeGreaterThan(n / 20); // the tail was exercised
    expect(d.layers.map((l) => l.layer)).toEqual([0, 1]);
    p.layers.forEach((l, k) => {
      const g = d.layers[k]!;
      expect(g.firstChunk).toBe(l.firstChunk);
      for (const key of ['grad', 'loss', 'theta', 'eta', 'alpha', 'momentum'] as const) expectLogClose(g[key], l[key]);
      expect(Math.max(...g.alpha)).toBeLessThanOrEqual(Math.max(...l.alpha)); // a gate stays below 1
    });
  });

  it('keeps the alternatives of the most surprising tokens exactly (probabilities within the log bound) and marks the others absent', () => {
    const p = realisticPiece();
    const n = p.offsets.length;
    const d = decodeTracePiece(encodeTracePiece(p));
    const kept = Array.from({ length: n }, (_, i) => i).filter((i) => d.altKept![i] === 1);
    expect(kept).toHaveLength(Math.ceil(KEEP_ALTERNATIVES * n));
    // exactly the most surprising ones
    const threshold = Math.min(...kept.map((i) => p.surprisal[i]!));
    for (let i = 0; i < n; i++) expect(d.altKept![i] === 1, `token ${i}`).toBe(p.surprisal[i]! > threshold || (p.surprisal[i] === threshold && kept.includes(i)));
    for (let i = 0; i < n; i++) {
      const ids = Array.from(d.top.subarray(TOP_K * i, TOP_K * i + TOP_K));
      const probs = d.topProb.subarray(TOP_K * i, TOP_K * i + TOP_K);
      if (d.altKept![i]) {
        expect(ids).toEqual(Array.from(p.top.subarray(TOP_K * i, TOP_K * i + TOP_K)));
        expectLogClose(probs, p.topProb.subarray(TOP_K * i, TOP_K * i + TOP_K));
      } else {
        expect(ids).toEqual([-1, -1, -1]);
        expect(Array.from(probs).every(Number.isNaN)).toBe(true);
      }
    }
    // all of them on request, and a decoded piece re-encodes to the same alternatives
    const all = decodeTracePiece(encodeTracePiece(p, { keepAlternatives: 1 }));
    expect(all.altKept!.every((k) => k === 1)).toBe(true);
    expect(Array.from(all.top)).toEqual(Array.from(p.top));
    const again = decodeTracePiece(encodeTracePiece(d, { keepAlternatives: 1 }));
    expect(Array.from(again.altKept!)).toEqual(Array.from(d.altKept!));
    expect(Array.from(again.top)).toEqual(Array.from(d.top));
    expect(Array.from(again.rank)).toEqual(Array.from(d.rank)); // approximate ranks are stable
  });

  it('NaN stays NaN, zero stays zero; the first token of a document (no surprisal, rank or alternatives) too', () => {
    const p = realisticPiece(300, 0, 0);
    p.surprisal[0] = NaN;
    p.rank[0] = -1;
    p.top.fill(-1, 0, TOP_K);
    p.topProb.fill(NaN, 0, TOP_K);
    p.layers[0]!.grad[5] = NaN;
    p.layers[0]!.grad[6] = 0;
    p.layers[1]!.loss.fill(NaN, 10, 20);
    p.topProb[TOP_K * 7 + 2] = NaN;
    p.surprisal[7] = 30; // kept, with a NaN probability among its alternatives
    const d = decodeTracePiece(encodeTracePiece(p));
    expect(d.surprisal[0]).toBeNaN();
    expect(d.rank[0]).toBe(-1);
    expect(d.altKept![0]).toBe(0); // nothing to keep
    expect(Array.from(d.top.subarray(0, TOP_K))).toEqual([-1, -1, -1]);
    expect(d.layers[0]!.grad[5]).toBeNaN();
    expect(d.layers[0]!.grad[6]).toBe(0);
    expect(Array.from(d.layers[1]!.loss.subarray(10, 20)).every(Number.isNaN)).toBe(true);
    expect(d.altKept![7]).toBe(1);
    expect(d.topProb[TOP_K * 7 + 2]).toBeNaN();
    expect(d.topProb[TOP_K * 7]).toBeCloseTo(p.topProb[TOP_K * 7]!, 1);
    // an all-NaN tensor, and a piece of one token
    p.layers[1]!.theta.fill(NaN);
    expect(Array.from(decodeTracePiece(encodeTracePiece(p)).layers[1]!.theta).every(Number.isNaN)).toBe(true);
    const one = realisticPiece(1, 9, 77);
    const d1 = decodeTracePiece(encodeTracePiece(one));
    expect(Array.from(d1.offsets)).toEqual([77]);
    expect(d1.altKept![0]).toBe(1);
  });

  it('offsets: long gaps, repeated offsets and even a step back round-trip exactly', () => {
    const p = realisticPiece(600, 0, 5);
    const gaps = [0, 254, 255, 256, 70_000, 1, 0, 0, 2_000_000];
    let at = 5;
    gaps.forEach((g, k) => (p.offsets[k + 1] = at += g));
    for (let i = gaps.length + 1; i < p.offsets.length; i++) p.offsets[i] = at += 3;
    p.offsets[300] = p.offsets[299]! - 2; // never written by the reader, still exact
    expect(Array.from(decodeTracePiece(encodeTracePiece(p)).offsets)).toEqual(Array.from(p.offsets));
  });

  it('signals the 1-byte code cannot hold (negative or infinite) are stored as float16 instead', () => {
    const p = realisticPiece(200, 0, 0);
    p.layers[0]!.loss[3] = -0.5;
    p.layers[1]!.grad[4] = Infinity;
    const d = decodeTracePiece(encodeTracePiece(p));
    expect(d.layers[0]!.loss[3]).toBe(-0.5);
    expect(d.layers[1]!.grad[4]).toBe(Infinity);
    expect(relErr(d.layers[0]!.loss[9]!, p.layers[0]!.loss[9]!)).toBeLessThan(1e-3);
  });

  it('pieces in format 1 (the libraries on disk from before) still decode, with or without alternatives', () => {
    const p = realisticPiece(1000, 4096, 12_345);
    const d = decodeTracePiece(format1Bytes(p));
    expect(Array.from(d.offsets)).toEqual(Array.from(p.offsets));
    expect(Array.from(d.rank)).toEqual(Array.from(p.rank)); // every rank exact
    expect(d.rankExactBelow).toBeUndefined();
    expect(d.altKept).toBeUndefined(); // every token's alternatives
    expect(Array.from(d.top)).toEqual(Array.from(p.top));
    expect(relErr(d.topProb[5]!, p.topProb[5]!)).toBeLessThan(1e-3);
    expect(relErr(d.layers[1]!.grad[10]!, p.layers[1]!.grad[10]!)).toBeLessThan(1e-3);
    expect(d.layers[1]!.alpha).toHaveLength(p.layers[1]!.alpha.length);
    const none = decodeTracePiece(format1Bytes(p, false));
    expect(Array.from(none.top).every((v) => v === -1)).toBe(true);
    expect(Array.from(none.topProb).every(Number.isNaN)).toBe(true);
    // and a piece from a newer app is refused with a reason, not misread
    const newer = encodeCheckpoint({ kind: 'surprise-trace', meta: { format: TRACE_FORMAT + 1, startToken: 0, chunkSize: 8, layers: [] }, tensors: [] });
    expect(() => decodeTracePiece(newer)).toThrow(/newer version.*update the app/);
  });

  it('summaries: float16 values close to those of the piece as read, float32 ones (from before) still decode, and a decoded piece summarizes close to the original', () => {
    const p = realisticPiece();
    const end = p.offsets.at(-1)! + 4;
    const exact = summarize(p, end);
    const stored = decodeSummary(encodeSummary(exact));
    const fromDecoded = summarize(decodeTracePiece(encodeTracePiece(p)), end);
    expect(stored).toHaveLength(exact.length);
    exact.forEach((row, i) => {
      expect(stored[i]!.startChar).toBe(row.startChar);
      expect(stored[i]!.endChar).toBe(row.endChar);
      expect(relErr(stored[i]!.lmMean, row.lmMean)).toBeLessThan(1e-3); // float16
      expect(relErr(stored[i]!.layers[1]!.gradMax, row.layers[1]!.gradMax)).toBeLessThan(1e-3);
      if (Number.isFinite(row.memMean)) expect(relErr(fromDecoded[i]!.memMean, row.memMean)).toBeLessThan(LOG_REL_ERROR);
    });
    // a summary as written before (float32 values), and one with a value float16 cannot hold
    const c = decodeCheckpoint(encodeSummary(exact));
    const values = c.tensors.find((x) => x.name === 'values')!;
    expect(values.dtype).toBe('float16');
    const old = encodeCheckpoint({ ...c, tensors: c.tensors.map((x) => (x.name === 'values' ? { ...x, data: Float32Array.from(exact.flatMap((r) => [r.lmMean, r.lmMax, r.memMean, r.memMax, ...r.layers.flatMap((l) => [l.gradMean, l.gradMax, l.theta, l.eta, l.alpha, l.momentum])])), dtype: 'float32' as const } : x)) });
    expect(decodeSummary(old)).toEqual(exact.map((r) => ({ ...r, lmMean: Math.fround(r.lmMean), lmMax: Math.fround(r.lmMax), memMean: Math.fround(r.memMean), memMax: Math.fround(r.memMax), layers: r.layers.map((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, Math.fround(v)]))) })));
    const big = exact.map((r) => ({ ...r, lmMax: 1e6 }));
    expect(decodeSummary(encodeSummary(big))[0]!.lmMax).toBe(1e6); // stored in float32 instead
  });
});

describe('1-byte codes', () => {
  it('ranks: exact below RANK_EXACT_BELOW, within RANK_REL_ERROR up to RANK_TOP, monotone, -1 kept', () => {
    for (let r = 0; r < RANK_EXACT_BELOW; r++) expect(rankOfCode(rankCode(r))).toBe(r);
    let worst = 0;
    let prev = -1;
    let ordered = true;
    for (let r = RANK_EXACT_BELOW; r < RANK_TOP; r++) {
      const c = rankCode(r);
      ordered &&= c >= prev && c <= 254;
      prev = c;
      worst = Math.max(worst, relErr(rankOfCode(c), r));
    }
    expect(ordered).toBe(true);
    expect(worst).toBeLessThanOrEqual(RANK_REL_ERROR);
    expect(rankOfCode(rankCode(-1))).toBe(-1);
    expect(rankCode(RANK_TOP * 4)).toBe(254); // saturates
  });

  it('log-quantization: within LOG_REL_ERROR over LOG_SPAN, finer for narrower ranges; 0 and NaN exact', () => {
    const a = Float32Array.from({ length: 2000 }, (_, i) => Math.exp(-16 + (16 * i) / 1999));
    const q = logQuantize(a)!;
    expect(q.codes.every((c) => c >= 1 && c <= 254)).toBe(true);
    expectLogClose(logDequantize(q.codes, q.lo, q.hi), a);
    const narrow = Float32Array.from({ length: 100 }, (_, i) => 0.01 + i * 1e-4);
    const n = logQuantize(narrow)!;
    expectLogClose(logDequantize(n.codes, n.lo, n.hi), narrow, Math.expm1(Math.log(narrow.at(-1)! / narrow[0]!) / 506 + 3e-6));
    const z = logQuantize(Float32Array.of(0, NaN, 3, 3))!;
    const zd = logDequantize(z.codes, z.lo, z.hi);
    expect(zd[0]).toBe(0);
    expect(zd[1]).toBeNaN();
    expect(relErr(zd[2]!, 3)).toBeLessThan(2e-6); // one value: only the range's rounding
    expect(zd[3]).toBe(zd[2]);
    expect(logQuantize(Float32Array.of(1, -1))).toBeNull();
  });
});
