import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../../models/checkpoint/format.js';
import {
  AdamW,
  clipByGlobalNorm,
  clipByGlobalNormTensor,
  defaultDecayFilter,
  learningRate,
} from '../../../models/train/optimizer.js';

/** plain float64 AdamW (PyTorch's torch.optim.AdamW) */
function adamwReference(
  p0: Record<string, number[]>,
  grads: Record<string, number[]>[],
  lrs: number[],
  o: { b1: number; b2: number; eps: number; wd: number; decayed: Set<string> },
): Record<string, number[]> {
  const p = Object.fromEntries(Object.entries(p0).map(([k, v]) => [k, [...v]]));
  const m = Object.fromEntries(Object.entries(p0).map(([k, v]) => [k, v.map(() => 0)]));
  const v = Object.fromEntries(Object.entries(p0).map(([k, x]) => [k, x.map(() => 0)]));
  grads.forEach((g, s) => {
    const t = s + 1;
    const lr = lrs[s]!;
    for (const k of Object.keys(p)) {
      const bc1 = 1 - o.b1 ** t;
      const bc2 = 1 - o.b2 ** t;
      for (let i = 0; i < p[k]!.length; i++) {
        if (o.decayed.has(k)) p[k]![i]! *= 1 - lr * o.wd;
        m[k]![i] = o.b1 * m[k]![i]! + (1 - o.b1) * g[k]![i]!;
        v[k]![i] = o.b2 * v[k]![i]! + (1 - o.b2) * g[k]![i]! ** 2;
        const mh = m[k]![i]! / bc1;
        const vh = v[k]![i]! / bc2;
        p[k]![i]! -= (lr * mh) / (Math.sqrt(vh) + o.eps);
      }
    }
  });
  return p;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const SHAPES: Record<string, number[]> = { 'l0.w': [3, 4], 'l0.bias': [4], 'l0.normGain': [2, 2], 'l1.w': [4, 2] };
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AdamW', () => {
  it('default decay filter: matrices yes; 1-D tensors, norm gains and biases no', () => {
    expect(defaultDecayFilter('l0.w', [3, 4])).toBe(true);
    expect(defaultDecayFilter('l0.bias', [4])).toBe(false);
    expect(defaultDecayFilter('l0.w', [4])).toBe(false);
    expect(defaultDecayFilter('l0.normGain', [2, 2])).toBe(false);
    expect(defaultDecayFilter('gate.bias', [2, 3])).toBe(false);
    expect(defaultDecayFilter('l0.normA', [8])).toBe(false);
  });

  for (const wd of [0, 0.1]) {
    it(`matches a float64 reference for 6 steps (weight decay ${wd}, excluded params)`, () => {
      const r = lcg(3);
      const p0 = Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, Array.from({ length: size(s) }, () => r() * 2)]));
      const grads = Array.from({ length: 6 }, (_, s) =>
        Object.fromEntries(Object.entries(SHAPES).map(([k, sh]) => [k, Array.from({ length: size(sh) }, () => r() * (s + 1))])),
      );
      const lrs = [0.01, 0.02, 0.05, 0.05, 0.03, 0.01];
      const b1 = 0.9, b2 = 0.95, eps = 1e-6; // prettier-ignore
      const params = Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, tf.variable(tf.tensor(p0[k]!, s))]));
      const opt = new AdamW(params, { beta1: b1, beta2: b2, eps, weightDecay: wd });
      expect([...opt.decayed].sort()).toEqual(['l0.w', 'l1.w']);
      const before = tf.memory().numTensors;
      for (let s = 0; s < 6; s++) {
        const g = Object.fromEntries(Object.entries(SHAPES).map(([k, sh]) => [k, tf.tensor(grads[s]![k]!, sh)]));
        opt.apply(g, lrs[s]!);
        tf.dispose(Object.values(g));
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(opt.step).toBe(6);
      const ref = adamwReference(p0, grads, lrs, { b1, b2, eps, wd, decayed: new Set(['l0.w', 'l1.w']) });
      for (const k of Object.keys(SHAPES)) {
        const got = params[k]!.dataSync();
        ref[k]!.forEach((x, i) => expect(Math.abs(got[i]! - x), `${k}[${i}]`).toBeLessThan(2e-6));
        // and the parameters really moved
        expect(Math.abs(got[0]! - p0[k]![0]!)).toBeGreaterThan(1e-3);
      }
      // weight decay changes exactly the decayed parameters
      if (wd > 0) {
        const noWd = adamwReference(p0, grads, lrs, { b1, b2, eps, wd: 0, decayed: new Set() });
        expect(Math.abs(ref['l0.w']![0]! - noWd['l0.w']![0]!)).toBeGreaterThan(1e-4);
        expect(ref['l0.bias']).toEqual(noWd['l0.bias']);
      }
      opt.dispose();
      tf.dispose(Object.values(params));
    });
  }

  it('exports and imports its state through a checkpoint for an exact resume', () => {
    const mk = () => ({ w: tf.variable(tf.tensor2d([[1, 2], [3, 4]])), b: tf.variable(tf.tensor1d([0.5, -0.5])) });
    const g = () => ({ w: tf.tensor2d([[0.1, -0.2], [0.3, 0.05]]), b: tf.tensor1d([1, -1]) });
    const pa = mk();
    const a = new AdamW(pa, { weightDecay: 0.1 });
    for (let i = 0; i < 3; i++) tf.tidy(() => a.apply(g(), 0.01));
    const saved = decodeCheckpoint(encodeCheckpoint(a.toCheckpoint({ note: 1 })));
    expect(saved.kind).toBe('optimizer');
    const pb = mk();
    tf.tidy(() => {
      pb.w.assign(pa.w.clone());
      pb.b.assign(pa.b.clone());
    });
    const b = new AdamW(pb, { weightDecay: 0.1 });
    b.loadCheckpoint(saved);
    expect(b.step).toBe(3);
    for (let i = 0; i < 2; i++) {
      tf.tidy(() => a.apply(g(), 0.02));
      tf.tidy(() => b.apply(g(), 0.02));
    }
    expect(pb.w.dataSync()).toEqual(pa.w.dataSync());
    expect(pb.b.dataSync()).toEqual(pa.b.dataSync());
    expect(b.m.w!.dataSync()).toEqual(a.m.w!.dataSync());
    a.dispose();
    b.dispose();
    tf.dispose([...Object.values(pa), ...Object.values(pb)]);
  });
});

describe('global-norm clipping', () => {
  it('returns the pre-clip norm and scales by maxNorm / norm', () => {
    const g = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) }; // norm 13
    const before = tf.memory().numTensors;
    const c = clipByGlobalNorm(g, 6.5);
    expect(c.norm).toBeCloseTo(13, 5);
    const s = 6.5 / (13 + 1e-6);
    expect(Array.from(c.grads.a.dataSync())).toEqual([Math.fround(3 * s), Math.fround(4 * s)]);
    expect(c.grads.b.dataSync()[0]).toBeCloseTo(12 * s, 5);
    const n2 = Math.hypot(...c.grads.a.dataSync(), ...c.grads.b.dataSync());
    expect(n2).toBeCloseTo(6.5, 4);
    const big = clipByGlobalNorm(g, 100);
    expect(Array.from(big.grads.a.dataSync())).toEqual([3, 4]);
    const t = clipByGlobalNormTensor(g, 6.5);
    expect(t.norm.dataSync()[0]).toBeCloseTo(13, 5);
    expect(t.grads.a.dataSync()[1]).toBeCloseTo(4 * s, 6);
    const off = clipByGlobalNormTensor(g, 0);
    expect(Array.from(off.grads.a.dataSync())).toEqual([3, 4]);
    tf.dispose([c.grads.a, c.grads.b, big.grads.a, big.grads.b, t.grads.a, t.grads.b, t.norm, off.grads.a, off.grads.b, off.norm]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([g.a, g.b]);
  });
});

describe('learning-rate schedule', () => {
  it('linear warmup, then cosine to the floor', () => {
    const s = { peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
    const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-15);
    close(learningRate(0, s), 1e-4);
    close(learningRate(4, s), 5e-4);
    close(learningRate(9, s), 1e-3);
    close(learningRate(10, s), 1e-3);
    close(learningRate(60, s), 0.55e-3); // halfway through the cosine: mean of peak and floor
    close(learningRate(35, s), 1e-4 + 0.9e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)));
    close(learningRate(110, s), 1e-4);
    close(learningRate(500, s), 1e-4);
    close(learningRate(0, { peakLr: 2, totalSteps: 10, minLrRatio: 0 }), 2);
    close(learningRate(10, { peakLr: 2, totalSteps: 10, minLrRatio: 0 }), 0);
    // monotone after the warmup
    for (let i = 10; i < 120; i++) expect(learningRate(i + 1, s)).toBeLessThanOrEqual(learningRate(i, s));
  });
});
