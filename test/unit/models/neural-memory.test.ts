// The tfjs NeuralMemory module (models/memory/neural-memory.ts) against the float64 reference:
// chunked update, token-by-token recurrence, state carry across calls, causality, surprise
// outputs, outer gradients through the inner update, and tensor leaks.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NeuralMemoryConfig, defaultConfig, memParamNames, paramShapes } from '../../../models/memory/config.js';
import {
  type MemoryState,
  NeuralMemory,
  deserializeState,
  disposeState,
  serializeState,
} from '../../../models/memory/neural-memory.js';
import { flatW64, neuralMemory64 } from '../../oracles/memory64.js';
import { compare, randomInput, randomParams, rng, toTensor, useBackend, centralDifference } from '../../helpers/models.js';

// every suite runs on cpu and on wasm (cheap at these sizes); TITANS_TEST_BACKEND picks one
const BACKENDS = process.env.TITANS_TEST_BACKEND ? [process.env.TITANS_TEST_BACKEND] : ['cpu', 'wasm'];

function titansConfig(over: Partial<NeuralMemoryConfig> = {}): NeuralMemoryConfig {
  return defaultConfig({ dim: 8, heads: 2, dimHead: 4, chunkSize: 3, mode: 'titans', qkRmsNorm: true, postNorm: true, maxLr: 0.5, ...over });
}

function referenceConfig(over: Partial<NeuralMemoryConfig> = {}): NeuralMemoryConfig {
  return defaultConfig({ dim: 8, heads: 2, dimHead: 4, chunkSize: 2, mode: 'reference', refreshInterval: 6, activation: 'silu', qkRmsNorm: true, ...over });
}

/** run the module over x in calls of the given lengths; returns retrieved [B, T, d] flat and final state */
function runCalls(mem: NeuralMemory, x: tf.Tensor, lengths: number[], opts: { serialize?: boolean } = {}): { y: Float32Array; state: MemoryState } {
  const [B, T, d] = x.shape as [number, number, number];
  let state: MemoryState | null = null;
  const ys: tf.Tensor[] = [];
  let pos = 0;
  for (const len of lengths) {
    const part = tf.slice(x, [0, pos, 0], [B, len, d]);
    const r = mem.forward(part, state);
    part.dispose();
    disposeState(state);
    state = r.state;
    if (opts.serialize) {
      const z = serializeState(state);
      disposeState(state);
      state = deserializeState(z);
    }
    ys.push(r.retrieved);
    pos += len;
  }
  expect(pos).toBe(T);
  const y = tf.concat(ys, 1);
  const out = y.dataSync() as Float32Array;
  tf.dispose([...ys, y]);
  return { y: out.slice(), state: state! };
}

/** largest relative change of the final fast weights / momentum when inputs and parameters get a
 *  random relative perturbation of float32 size (6e-8), in the float64 reference */
function stateSensitivity(c: NeuralMemoryConfig, p: Record<string, Float64Array>, x: Float64Array[], T: number): number {
  const r = rng(99);
  const base = neuralMemory64(c, p, x, T).heads.flat();
  const pp = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.map((e) => e * (1 + 6e-8 * r.normal()))]));
  const pert = neuralMemory64(c, pp, x.map((a) => a.map((e) => e * (1 + 6e-8 * r.normal()))), T).heads.flat();
  let worst = 0;
  const n = flatW64(base[0]!.momentum).length;
  for (let i = 0; i < n; i++) {
    const w = (hs: typeof base) => hs.flatMap((h) => Array.from(flatW64(h.updates[h.updates.length - 1]!)[i]!));
    const m = (hs: typeof base) => hs.flatMap((h) => Array.from(flatW64(h.momentum)[i]!));
    worst = Math.max(worst, compare(w(pert), w(base)).rel, compare(m(pert), m(base)).rel);
  }
  return worst;
}

for (const BACKEND of BACKENDS) {
  describe(`NeuralMemory (tfjs ${BACKEND}) vs float64 reference`, () => {
    beforeAll(async () => {
      await useBackend(BACKEND);
    });

    const cases: [string, NeuralMemoryConfig, number][] = [
      ['titans mode, 2 heads, chunk 3, conv + SiLU + l2 + qk RMSNorm + post norm', titansConfig(), 11],
      ['titans mode, chunk 1 (token-by-token recurrence)', titansConfig({ chunkSize: 1 }), 9],
      ['titans mode, 1 head, depth 1 (linear memory)', defaultConfig({ dim: 6, chunkSize: 4, mode: 'titans', depth: 1 }), 14],
      ['titans mode, depth 3, no residual norm', titansConfig({ depth: 3, normResidual: false, expansion: 2, qkRmsNorm: false }), 10],
      ['reference mode, refresh interval 6, chunk 2', referenceConfig(), 13],
      ['reference mode, gradients all at W0 (batch_size=None)', referenceConfig({ refreshInterval: null, chunkSize: 3 }), 13],
    ];
    for (const [name, c, T] of cases) {
      it(`${name}: retrieved, state and surprise`, () => {
        const B = 2;
        const p = randomParams(c, T * 31);
        const x = randomInput(B, T, c.dim, T);
        const ref = neuralMemory64(c, p, x, T);
        const mem = new NeuralMemory(c, { init: p });
        const xt = toTensor(x, T, c.dim);
        const r = mem.forward(xt, null, { surprise: true });
        const y = r.retrieved.dataSync();
        expect(compare(y, ref.retrieved.flatMap((a) => Array.from(a))).rel).toBeLessThan(5e-6);
        // state: current weights, momentum, gradient weights; per memory g = b*h + head.
        // The recurrence can amplify float32 rounding: the tolerance is 10x the change that a
        // float32-sized relative perturbation (6e-8) of the inputs and parameters causes in the
        // float64 reference (measured, e.g. 2.4e-5 for the chunk-1 case), at least 1e-5, and the
        // sensitivity itself must stay small for the comparison to mean something.
        const sens = stateSensitivity(c, p, x, T);
        expect(sens).toBeLessThan(1e-4);
        const tol = Math.max(1e-5, 10 * sens);
        const z = serializeState(r.state);
        const heads = ref.heads.flat();
        z.weights.forEach((w, i) => {
          expect(compare(w, heads.flatMap((hr) => Array.from(flatW64(hr.updates[hr.updates.length - 1]!)[i]!))).rel).toBeLessThan(tol);
          expect(compare(z.momentum[i]!, heads.flatMap((hr) => Array.from(flatW64(hr.momentum)[i]!))).rel).toBeLessThan(tol);
          expect(compare(z.gradWeights[i]!, heads.flatMap((hr) => Array.from(flatW64(hr.gradWeights)[i]!))).rel).toBeLessThan(tol);
        });
        expect(z.pos).toBe(T);
        // surprise outputs
        const s = r.surprise!;
        const N = Math.floor(T / c.chunkSize);
        expect(s.start).toBe(0);
        expect(s.length).toBe(N * c.chunkSize);
        expect(s.chunks).toBe(N);
        expect(compare(s.loss, heads.flatMap((hr) => Array.from(hr.loss))).rel).toBeLessThan(tol);
        expect(compare(s.theta, ref.theta.flat().flatMap((a) => Array.from(a))).rel).toBeLessThan(1e-6);
        expect(compare(s.eta, ref.eta.flat().flatMap((a) => Array.from(a))).rel).toBeLessThan(1e-6);
        expect(compare(s.alpha, ref.alpha.flat().flatMap((a) => Array.from(a))).rel).toBeLessThan(1e-6);
        expect(compare(s.momentumNorm, heads.flatMap((hr) => Array.from(hr.momentumNorm))).rel).toBeLessThan(tol);
        expect(s.tensorNames).toEqual(memParamNames(c));
        s.gradNorm.forEach((gn, i) => {
          expect(compare(gn, heads.flatMap((hr) => Array.from(hr.tokenGradNorms[i]!))).rel).toBeLessThan(tol);
        });
        tf.dispose([xt, r.retrieved]);
        disposeState(r.state);
        mem.dispose();
      });
    }

    it('chunk 1 equals a hand-written token-by-token recurrence (linear memory, closed-form gradient)', () => {
      // M(x) = x W (depth 1, no residual norm), l_t = mean_d (k_t W - v_t)^2, so
      // grad_W theta_t l_t = (2/dh) theta_t k_t^T (k_t W - v_t); S_t = eta_t S - grad; W_t = (1 - alpha_t) W + S_t;
      // y_t = q_t W_t (token t reads the weights after its own update: W_{floor((t+1)/1)})
      const d = 5;
      const c = defaultConfig({ dim: d, chunkSize: 1, mode: 'reference', refreshInterval: 1, depth: 1, normResidual: false, preNorm: false, maxLr: 0.7 });
      const T = 12;
      const p = randomParams(c, 91);
      const x = randomInput(1, T, d, 92)[0]!;
      const row = (t: number, Wm: Float64Array, cols: number) =>
        Float64Array.from({ length: cols }, (_, j) => x.slice(t * d, (t + 1) * d).reduce((a, v, i) => a + v * Wm[i * cols + j]!, 0));
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      let W = p.mem0!.slice(); // [d, d]
      const S = new Float64Array(d * d);
      const y = new Float64Array(T * d);
      for (let t = 0; t < T; t++) {
        const k = row(t, p.wk!, d);
        const v = row(t, p.wv!, d);
        const q = row(t, p.wq!, d);
        const theta = sig(row(t, p.thetaW!, 1)[0]! + p.thetaB![0]!) * c.maxLr;
        const eta = sig(row(t, p.etaW!, 1)[0]! + p.etaB![0]!);
        const alpha = sig(row(t, p.alphaW!, 1)[0]! + p.alphaB![0]!);
        const err = Float64Array.from({ length: d }, (_, j) => k.reduce((a, kv, i) => a + kv * W[i * d + j]!, 0) - v[j]!);
        const Wn = new Float64Array(d * d);
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) {
            S[i * d + j] = eta * S[i * d + j]! - (2 / d) * theta * k[i]! * err[j]!;
            Wn[i * d + j] = (1 - alpha) * W[i * d + j]! + S[i * d + j]!;
          }
        W = Wn;
        for (let j = 0; j < d; j++) y[t * d + j] = q.reduce((a, qv, i) => a + qv * W[i * d + j]!, 0);
      }
      const mem = new NeuralMemory(c, { init: p });
      const xt = toTensor([x], T, d);
      const r = mem.forward(xt);
      expect(compare(r.retrieved.dataSync(), y).rel).toBeLessThan(5e-6);
      tf.dispose([xt, r.retrieved]);
      disposeState(r.state);
      mem.dispose();
    });

    it('chunking matters: chunk 3 differs from chunk 1 (the test above can tell them apart)', () => {
      const T = 9;
      const c1 = titansConfig({ chunkSize: 1 });
      const c3 = titansConfig({ chunkSize: 3 });
      const p = randomParams(c1, 5);
      const x = randomInput(1, T, 8, 6);
      const y1 = neuralMemory64(c1, p, x, T).retrieved[0]!;
      const y3 = neuralMemory64(c3, p, x, T).retrieved[0]!;
      expect(compare(y1, y3).maxAbs).toBeGreaterThan(1e-3);
    });

    it('maxChunksPerBatch does not change results (chunks sharing gradient weights are batched)', () => {
      const c = referenceConfig({ refreshInterval: null, chunkSize: 2 });
      const p = randomParams(c, 8);
      const x = toTensor(randomInput(1, 15, 8, 9), 15, 8);
      const mem = new NeuralMemory(c, { init: p });
      const a = mem.forward(x, null, { maxChunksPerBatch: 32 });
      const b = mem.forward(x, null, { maxChunksPerBatch: 2 });
      expect(compare(a.retrieved.dataSync(), b.retrieved.dataSync()).maxAbs).toBeLessThan(1e-6);
      tf.dispose([x, a.retrieved, b.retrieved]);
      disposeState(a.state);
      disposeState(b.state);
      mem.dispose();
    });
  });

  describe(`state carry across calls (tfjs ${BACKEND})`, () => {
    beforeAll(async () => {
      await useBackend(BACKEND);
    });
    const splits: number[][] = [
      [23],
      [1, 22],
      [3, 20],
      [4, 19],
      [5, 18],
      [9, 14],
      [22, 1],
      [5, 1, 17],
      [1, 1, 1, 1, 1, 1, 1, 16],
      [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3],
    ];
    for (const [label, c] of [
      ['titans mode chunk 4', titansConfig({ chunkSize: 4 })],
      ['reference mode chunk 2, refresh 6', referenceConfig()],
      ['reference mode chunk 2, all gradients at W0', referenceConfig({ refreshInterval: null })],
    ] as const) {
      it(`${label}: reading in several calls equals one call, also through serialize/deserialize`, () => {
        const T = 23;
        const p = randomParams(c, 77);
        const x = toTensor(randomInput(2, T, 8, 78), T, 8);
        const mem = new NeuralMemory(c, { init: p });
        const one = runCalls(mem, x, [T]);
        const zOne = serializeState(one.state);
        let exact = 0;
        for (const [i, lengths] of splits.entries()) {
          const many = runCalls(mem, x, lengths, { serialize: i % 2 === 1 });
          const e = compare(many.y, one.y).maxAbs;
          expect(e).toBeLessThan(1e-6);
          if (e === 0) exact++;
          const z = serializeState(many.state);
          expect(z.pos).toBe(zOne.pos);
          z.weights.forEach((w, k) => expect(compare(w, zOne.weights[k]!).maxAbs).toBeLessThan(1e-6));
          z.momentum.forEach((w, k) => expect(compare(w, zOne.momentum[k]!).maxAbs).toBeLessThan(1e-6));
          z.gradWeights.forEach((w, k) => expect(compare(w, zOne.gradWeights[k]!).maxAbs).toBeLessThan(1e-6));
          expect(z.carry?.shape).toEqual(zOne.carry?.shape);
          disposeState(many.state);
        }
        // float32 ops are row-independent here, so the split calls are bit-identical in practice
        expect(exact).toBe(splits.length);
        disposeState(one.state);
        x.dispose();
        mem.dispose();
      });
    }

    it('surprise reports of split calls tile the one-call report by absolute position', () => {
      const c = titansConfig({ chunkSize: 4 });
      const T = 23;
      const mem = new NeuralMemory(c, { init: randomParams(c, 61) });
      const x = toTensor(randomInput(1, T, 8, 62), T, 8);
      const one = mem.forward(x, null, { surprise: true });
      let state: MemoryState | null = null;
      let pos = 0;
      const G = c.heads;
      for (const len of [3, 6, 1, 13]) {
        const part = tf.slice(x, [0, pos, 0], [1, len, 8]);
        const r = mem.forward(part, state, { surprise: true });
        const s = r.surprise!;
        expect(s.start).toBe(Math.floor(pos / 4) * 4);
        expect(s.firstChunk).toBe(Math.floor(pos / 4));
        expect(s.length).toBe((Math.floor((pos + len) / 4) - Math.floor(pos / 4)) * 4);
        for (let g = 0; g < G; g++) {
          const sub = (a: Float32Array, n: number, from: number, cnt: number) => a.slice(g * n + from, g * n + from + cnt);
          const L1 = one.surprise!.length;
          expect(compare(sub(s.loss, s.length, 0, s.length), sub(one.surprise!.loss, L1, s.start, s.length)).maxAbs).toBeLessThan(1e-6);
          expect(compare(sub(s.gradNorm[1]!, s.length, 0, s.length), sub(one.surprise!.gradNorm[1]!, L1, s.start, s.length)).maxAbs).toBeLessThan(1e-6);
          const C1 = one.surprise!.chunks;
          expect(compare(sub(s.momentumNorm, s.chunks, 0, s.chunks), sub(one.surprise!.momentumNorm, C1, s.firstChunk, s.chunks)).maxAbs).toBeLessThan(1e-6);
        }
        tf.dispose([part, r.retrieved]);
        disposeState(state);
        state = r.state;
        pos += len;
      }
      disposeState(state);
      disposeState(one.state);
      tf.dispose([x, one.retrieved]);
      mem.dispose();
    });

    it('continuing from a state equals the float64 reference of the whole sequence', () => {
      const c = titansConfig({ chunkSize: 4 });
      const p = randomParams(c, 12);
      const xr = randomInput(1, 19, 8, 13);
      const ref = neuralMemory64(c, p, xr, 19).retrieved[0]!;
      const mem = new NeuralMemory(c, { init: p });
      const x = toTensor(xr, 19, 8);
      const r = runCalls(mem, x, [6, 7, 6], { serialize: true });
      expect(compare(r.y, ref).rel).toBeLessThan(5e-6);
      disposeState(r.state);
      x.dispose();
      mem.dispose();
    });
  });

  describe(`causality (tfjs ${BACKEND})`, () => {
    beforeAll(async () => {
      await useBackend(BACKEND);
    });
    for (const [label, c] of [
      ['titans mode chunk 4', titansConfig({ chunkSize: 4 })],
      ['reference mode chunk 2 refresh 6', referenceConfig()],
    ] as const) {
      it(`${label}: changing token j changes no retrieved output before j`, () => {
        const T = 16;
        const d = 8;
        const p = randomParams(c, 21);
        const base = randomInput(1, T, d, 22)[0]!;
        const mem = new NeuralMemory(c, { init: p });
        const run = (xa: Float64Array) => {
          const x = toTensor([xa], T, d);
          const r = mem.forward(x);
          const y = (r.retrieved.dataSync() as Float32Array).slice();
          tf.dispose([x, r.retrieved]);
          disposeState(r.state);
          return y;
        };
        const y0 = run(base);
        const r = rng(23);
        for (const j of [0, 2, 3, 4, 7, 8, 11, 15]) {
          const xa = base.slice();
          for (let k = 0; k < d; k++) xa[j * d + k]! += 1 + r.normal();
          const y1 = run(xa);
          for (let t = 0; t < T; t++) {
            const diff = compare(y1.slice(t * d, (t + 1) * d), y0.slice(t * d, (t + 1) * d)).maxAbs;
            if (t < j) expect(diff, `token ${t} changed when token ${j} did`).toBe(0);
            if (t === j) expect(diff, `token ${j} did not see its own change`).toBeGreaterThan(1e-4);
          }
        }
        mem.dispose();
      });
    }
  });

  describe(`outer gradients through the inner update (tfjs ${BACKEND})`, () => {
    beforeAll(async () => {
      await useBackend(BACKEND);
    });
    for (const [label, c, T] of [
      ['titans mode (conv, SiLU, l2, qk RMSNorm, post norm, 2 heads)', titansConfig({ chunkSize: 3 }), 10],
      ['titans mode depth 1', defaultConfig({ dim: 6, chunkSize: 2, mode: 'titans', depth: 1, maxLr: 0.5 }), 7],
      ['reference mode, refresh 6', referenceConfig(), 11],
    ] as const) {
      it(`${label}: tf.grads match central finite differences of the float64 reference`, () => {
        const B = 1;
        const p = randomParams(c, 41);
        const x = randomInput(B, T, c.dim, 42);
        const r = rng(43);
        const probe = Float64Array.from({ length: B * T * c.dim }, () => r.normal());
        const mem = new NeuralMemory(c, { init: p });
        const names = Object.keys(paramShapes(c));
        const xt = toTensor(x, T, c.dim);
        const pt = tf.tensor(Float32Array.from(probe), [B, T, c.dim]);
        const gradFn = tf.grads((...ts: tf.Tensor[]) => {
          const params = Object.fromEntries(names.map((n, i) => [n, ts[i]!]));
          const out = mem.forward(xt, null, { params });
          return tf.sum(tf.mul(out.retrieved, pt));
        });
        const before = tf.memory().numTensors;
        const gs = gradFn(names.map((n) => mem.params[n]!));
        const gd = gs.map((g) => (g.dataSync() as Float32Array).slice());
        tf.dispose(gs);
        expect(tf.memory().numTensors).toBe(before);
        const obj = () => {
          const y = neuralMemory64(c, p, x, T).retrieved;
          let s = 0;
          y.forEach((yb, b) => yb.forEach((v, i) => (s += v * probe[b * T * c.dim + i]!)));
          return s;
        };
        let worst = 0;
        let worstName = '';
        let checked = 0;
        names.forEach((n, ni) => {
          const t = p[n]!;
          const scale = Math.max(...Array.from(gd[ni]!, Math.abs));
          const idx = t.length <= 8 ? [...t.keys()] : Array.from({ length: 8 }, () => Math.floor(r.uniform() * t.length));
          for (const i of idx) {
            const fd = centralDifference(t, i, obj);
            // error relative to the entry, or to a tenth of the largest gradient of the tensor for tiny entries
            const err = Math.abs(fd - gd[ni]![i]!) / Math.max(Math.abs(fd), 0.1 * scale, 1e-4);
            if (err > worst) {
              worst = err;
              worstName = `${n}[${i}] fd ${fd} tf ${gd[ni]![i]}`;
            }
            checked++;
          }
        });
        expect(checked).toBeGreaterThan(50);
        // float32 through several chunks of the recurrence: measured worst 3e-5 on cpu and 1e-4 on
        // wasm (etaW, an entry 13x smaller than the tensor's largest gradient); a wrong gradient
        // path gives O(1) errors.
        expect(worst, worstName).toBeLessThan(2e-4);
        tf.dispose([xt, pt]);
        mem.dispose();
      });
    }
  });

  describe(`gradients across calls (tfjs ${BACKEND})`, () => {
    beforeAll(async () => {
      await useBackend(BACKEND);
    });
    it('outer gradients through a state carried across calls equal those of one call', () => {
      const c = titansConfig({ chunkSize: 4 });
      const T = 14;
      const p = randomParams(c, 51);
      const mem = new NeuralMemory(c, { init: p });
      const x = toTensor(randomInput(1, T, 8, 52), T, 8);
      const probe = tf.randomNormal([1, T, 8], 0, 1, 'float32', 53);
      const grads = (splits: number[]) => {
        const { grads: g } = tf.variableGrads(() => {
          let state: MemoryState | null = null;
          const ys: tf.Tensor[] = [];
          let pos = 0;
          for (const len of splits) {
            const r = mem.forward(tf.slice(x, [0, pos, 0], [1, len, 8]), state);
            state = r.state;
            ys.push(r.retrieved);
            pos += len;
          }
          return tf.sum(tf.mul(tf.concat(ys, 1), probe)) as tf.Scalar;
        });
        const out = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()]));
        tf.dispose(Object.values(g));
        return out;
      };
      const one = grads([T]);
      const three = grads([5, 2, 7]);
      expect(Object.keys(three).sort()).toEqual(Object.keys(one).sort());
      for (const k of Object.keys(one)) expect(compare(three[k]!, one[k]!).rel, k).toBeLessThan(1e-5);
      tf.dispose([x, probe]);
      mem.dispose();
    });
  });

  describe(`tensor leaks (tfjs ${BACKEND})`, () => {
    let mem: NeuralMemory;
    beforeAll(async () => {
      await useBackend(BACKEND);
      mem = new NeuralMemory(titansConfig({ chunkSize: 4 }), { seed: 3 });
    });
    afterAll(() => mem.dispose());
    it('tf.memory().numTensors is stable across repeated update calls', () => {
      const x = toTensor(randomInput(1, 10, 8, 1), 10, 8);
      let state: MemoryState | null = null;
      const counts: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = mem.forward(x, state, { surprise: i % 2 === 0 });
        disposeState(state);
        state = r.state;
        r.retrieved.dispose();
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts.slice(1)).size).toBe(1);
      disposeState(state);
      x.dispose();
    });
    it('gradient computation leaks nothing', () => {
      const x = toTensor(randomInput(1, 8, 8, 2), 8, 8);
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { value, grads } = tf.variableGrads(() => tf.sum(mem.forward(x).retrieved) as tf.Scalar);
        tf.dispose([value, ...Object.values(grads)]);
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
      x.dispose();
    });
  });
}
