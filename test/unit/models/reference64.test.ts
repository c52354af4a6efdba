// The float64 reference itself: erf, explicit inner gradient vs finite differences, and the whole
// module vs titans-pytorch (float64 vectors, docs/titans.md section 5).
import { describe, expect, it } from 'vitest';
import { defaultConfig, type NeuralMemoryConfig } from '../../../models/memory/config.js';
import { batchRows, configFromTorch, flatten, gradsFromTorch, paramsFromTorch } from '../../oracles/torch-compat.js';
import {
  type MemW64,
  erf64,
  flatW64,
  headW0,
  memGrad64,
  memLossSum64,
  neuralMemory64,
} from '../../oracles/memory64.js';
import { VECTOR_FILES, compare, loadVectors, randomParams, rng, centralDifference } from '../../helpers/models.js';

describe('erf64', () => {
  it('matches known values to 1e-15', () => {
    const known: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3.5, 0.9999992569016276],
      [-1.5, -0.9661051464753108],
    ];
    for (const [x, v] of known) expect(Math.abs(erf64(x) - v)).toBeLessThan(1e-15);
  });
});

function fdCheck(c: NeuralMemoryConfig, seed: number): number {
  const r = rng(seed);
  const n = 5;
  const p = randomParams(c, seed);
  const w = headW0(c, p, 0);
  // make gamma non-trivial
  if (w.gamma) for (let i = 0; i < w.gamma.length; i++) w.gamma[i] = 0.5 * r.normal();
  const K = Float64Array.from({ length: n * c.dimHead }, () => r.normal());
  const V = Float64Array.from({ length: n * c.dimHead }, () => r.normal());
  const theta = Float64Array.from({ length: n }, () => 0.1 + r.uniform());
  const g = memGrad64(c, w, K, V, theta, n);
  const gf = flatW64(g.grad);
  let worst = 0;
  const tensors = flatW64(w);
  tensors.forEach((t, ti) => {
    for (let i = 0; i < t.length; i++) {
      const h = 1e-5;
      const old = t[i]!;
      t[i] = old + h;
      const fp = memLossSum64(c, w as MemW64, K, V, theta, n);
      t[i] = old - h;
      const fm = memLossSum64(c, w as MemW64, K, V, theta, n);
      t[i] = old;
      const fd = (fp - fm) / (2 * h);
      const err = Math.abs(fd - gf[ti]![i]!) / Math.max(1e-3, Math.abs(fd));
      worst = Math.max(worst, err);
    }
  });
  return worst;
}

describe('explicit inner gradient (float64)', () => {
  for (const [depth, normResidual] of [
    [1, true],
    [2, true],
    [3, true],
    [2, false],
  ] as const) {
    it(`matches central finite differences, depth ${depth}, normResidual ${normResidual}`, () => {
      const c = defaultConfig({ dim: 4, mode: 'reference', chunkSize: 5, depth, normResidual, expansion: 2 });
      expect(fdCheck(c, 11 + depth)).toBeLessThan(1e-7);
    });
  }
  it('per-token gradient norms equal the norms of each token\'s own gradient', () => {
    const c = defaultConfig({ dim: 4, mode: 'reference', chunkSize: 3, depth: 2, expansion: 2 });
    const r = rng(5);
    const p = randomParams(c, 5);
    const w = headW0(c, p, 0);
    const n = 3;
    const K = Float64Array.from({ length: n * 4 }, () => r.normal());
    const V = Float64Array.from({ length: n * 4 }, () => r.normal());
    const theta = Float64Array.from({ length: n }, () => r.uniform());
    const all = memGrad64(c, w, K, V, theta, n);
    for (let t = 0; t < n; t++) {
      const one = memGrad64(c, w, K.slice(t * 4, t * 4 + 4), V.slice(t * 4, t * 4 + 4), Float64Array.of(1), 1);
      flatW64(one.grad).forEach((gt, i) => {
        const norm = Math.sqrt(gt.reduce((s, v) => s + v * v, 0));
        expect(Math.abs(norm - all.tokenGradNorms[i]![t]!)).toBeLessThan(1e-12 * Math.max(1, norm));
      });
    }
  });
});

describe('float64 reference vs titans-pytorch vectors', () => {
  for (const f of VECTOR_FILES) {
    it(`${f}: retrieved, per-token losses, theta, states to 1e-12`, () => {
      const v = loadVectors(f);
      const c = configFromTorch(v);
      const p = paramsFromTorch(v, c);
      const { rows, T } = batchRows(v.input);
      const r = neuralMemory64(c, p, rows, T);
      expect(compare(r.retrieved.flatMap((a) => Array.from(a)), flatten(v.retrieved)).maxAbs).toBeLessThan(1e-12);
      const heads = r.heads.flat();
      expect(compare(heads.flatMap((h) => Array.from(h.loss)), flatten(v.store_loss_per_token)).maxAbs).toBeLessThan(1e-12);
      expect(compare(r.theta.flat().flatMap((a) => Array.from(a)), flatten(v.adaptive_lr_per_token)).maxAbs).toBeLessThan(1e-12);
      const names = ['norm.gamma', 'model.weights.0', 'model.weights.1'];
      names.forEach((n, i) => {
        const last = heads.flatMap((h) => Array.from(flatW64(h.updates[h.updates.length - 1]!)[i]!));
        expect(compare(last, flatten(v.state.last_update[n]!.data)).maxAbs).toBeLessThan(1e-12);
        const gw = heads.flatMap((h) => Array.from(flatW64(h.gradWeights)[i]!));
        expect(compare(gw, flatten(v.state.weights[n]!.data)).maxAbs).toBeLessThan(1e-12);
        const mom = heads.flatMap((h) => Array.from(flatW64(h.momentum)[i]!));
        expect(compare(mom, flatten(v.state.last_momentum[n]!.data)).maxAbs).toBeLessThan(1e-12);
        // per-chunk updates W_0..W_N (titans-pytorch `updates`, [b*h, N+1, ...])
        const ups = heads.flatMap((h) => h.updates.flatMap((u) => Array.from(flatW64(u)[i]!)));
        expect(compare(ups, flatten(v.state.updates[n]!.data)).maxAbs).toBeLessThan(1e-12);
      });
      expect(v.state.seq_index).toBe(Math.floor(T / c.chunkSize) * c.chunkSize);
    });
  }

  it('finite differences of the float64 reference reproduce grad_of_objective (heads_batch, sampled entries)', () => {
    const v = loadVectors('neural_memory_heads_batch');
    const c = configFromTorch(v);
    const p = paramsFromTorch(v, c);
    const { rows, T } = batchRows(v.input);
    const probe = flatten(v.probe);
    const obj = () => {
      const r = neuralMemory64(c, p, rows, T);
      let s = 0;
      r.retrieved.flatMap((a) => Array.from(a)).forEach((y, i) => (s += y * probe[i]!));
      return s;
    };
    expect(Math.abs(obj() - v.objective)).toBeLessThan(1e-12);
    const eg = gradsFromTorch(v);
    const r = rng(3);
    let worst = 0;
    for (const name of Object.keys(eg)) {
      const t = p[name]!;
      for (let s = 0; s < 3; s++) {
        const i = Math.floor(r.uniform() * t.length);
        const fd = centralDifference(t, i, obj);
        worst = Math.max(worst, Math.abs(fd - eg[name]![i]!) / Math.max(1e-2, Math.abs(fd)));
      }
    }
    expect(worst).toBeLessThan(1e-6);
  });
});
