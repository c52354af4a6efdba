// The inference path of the memory (models/memory/fast-update.ts, issue 17 item 3) against the
// general path (NeuralMemory.update + CausalRetrieval, checked against the float64 reference in
// neural-memory.test.ts): same retrieved values, same state (weights, momentum, carry), same
// surprise trace, on random inputs, for today's default memory shape (d128, 2 heads, chunk 16,
// depth-2 MLP) and the coming one (d256, 4 heads of 64, chunk 32, linear memory), read in calls that
// cut chunks anywhere. Also the whole model (TitansModel.forward, fast on and off).
// Tolerance: max |fast - general| / max |general| <= 2e-5 per tensor (float32; the two paths sum
// the same products in a different order).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type NeuralMemoryConfig } from '../../../models/memory/config.js';
import { disposeState, type MemoryState, NeuralMemory } from '../../../models/memory/neural-memory.js';
import type { SurpriseReport } from '../../../models/memory/surprise.js';
import { modelConfig } from '../../../models/model/config.js';
import { disposeModelState, TitansModel, type ModelState } from '../../../models/model/model.js';
import { compare, useBackend } from '../../helpers/models.js';

const BACKENDS = process.env.TITANS_TEST_BACKEND ? [process.env.TITANS_TEST_BACKEND] : ['wasm', 'cpu'];
const TOL = 2e-5;

const SHAPES: Array<[string, NeuralMemoryConfig, number[]]> = [
  ['d128, 2 heads, chunk 16, depth 2', defaultConfig({ dim: 128, heads: 2, chunkSize: 16, depth: 2 }), [5, 40, 64, 1, 17, 60]],
  ['d256, 4 heads of 64, chunk 32, depth 1', defaultConfig({ dim: 256, heads: 4, chunkSize: 32, depth: 1 }), [31, 2, 100, 128, 9]],
  ['d32, 1 head, chunk 4, depth 3, no ResidualNorm', defaultConfig({ dim: 32, heads: 1, chunkSize: 4, depth: 3, normResidual: false, postNorm: true }), [3, 9, 1, 12, 7]],
];

function close(what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol = TOL): void {
  const r = compare(a, b);
  expect(r.rel, `${what}: max abs ${r.maxAbs}`).toBeLessThanOrEqual(tol);
}

function run(mem: NeuralMemory, x: tf.Tensor, lengths: number[], fast: boolean) {
  let state: MemoryState | null = null;
  const ys: Float32Array[] = [];
  const reports: SurpriseReport[] = [];
  let pos = 0;
  for (const len of lengths) {
    const part = tf.slice(x, [0, pos, 0], [1, len, x.shape[2]!]);
    const r = mem.forward(part, state, { surprise: true, fast });
    part.dispose();
    disposeState(state);
    state = r.state;
    ys.push((r.retrieved.dataSync() as Float32Array).slice());
    r.retrieved.dispose();
    reports.push(r.surprise!);
    pos += len;
  }
  const s = state!;
  const read = (t: tf.Tensor) => (t.dataSync() as Float32Array).slice();
  const out = { ys, reports, W: s.weights.map(read), S: s.momentum.map(read), sameWg: s.gradWeights.every((t, i) => t === s.weights[i]), carry: s.carry ? read(s.carry) : null };
  disposeState(s);
  return out;
}

for (const backend of BACKENDS) {
  describe(`fast reading path equals the general path (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    afterAll(async () => {
      await useBackend('cpu');
    });

    for (const [name, c, lengths] of SHAPES) {
      it(`memory: ${name}`, () => {
        const mem = new NeuralMemory({ ...c, maxLr: 0.5 }, { seed: 3 });
        const T = lengths.reduce((a, b) => a + b, 0);
        const x = tf.randomNormal([1, T, c.dim], 0, 1, 'float32', 7);
        const before = tf.memory().numTensors;
        const fast = run(mem, x, lengths, true);
        const leaked = tf.memory().numTensors - before;
        const slow = run(mem, x, lengths, false);
        expect(leaked).toBe(0);
        fast.ys.forEach((y, i) => close(`retrieved, call ${i}`, y, slow.ys[i]!));
        fast.W.forEach((w, i) => close(`weights ${i}`, w, slow.W[i]!));
        fast.S.forEach((s, i) => close(`momentum ${i}`, s, slow.S[i]!));
        expect(fast.sameWg).toBe(true);
        expect(fast.carry === null).toBe(slow.carry === null);
        if (fast.carry) close('carry', fast.carry, slow.carry!, 0);
        fast.reports.forEach((f, i) => {
          const g = slow.reports[i]!;
          expect([f.start, f.length, f.firstChunk, f.chunks, f.memories]).toEqual([g.start, g.length, g.firstChunk, g.chunks, g.memories]);
          expect(f.tensorNames).toEqual(g.tensorNames);
          if (f.length === 0) return;
          close(`loss ${i}`, f.loss, g.loss);
          close(`theta ${i}`, f.theta, g.theta);
          f.gradNorm.forEach((gn, j) => close(`gradNorm ${f.tensorNames[j]} ${i}`, gn, g.gradNorm[j]!));
          close(`eta ${i}`, f.eta, g.eta);
          close(`alpha ${i}`, f.alpha, g.alpha);
          close(`momentumNorm ${i}`, f.momentumNorm, g.momentumNorm);
        });
        x.dispose();
        mem.dispose();
      });
    }

    it('model: logits, surprise and state of TitansModel.forward, fast on and off', () => {
      const config = modelConfig({ vocabSize: 260, dim: 64, layers: 2, heads: 4, segment: 32, memory: { chunkSize: 8, heads: 2 } });
      const model = new TitansModel(config, { seed: 5 });
      const ids = tf.tidy(() => tf.cast(tf.floor(tf.mul(tf.randomUniform([1, 150], 0, 1, 'float32', 2), 260)), 'int32'));
      const go = (fast: boolean) => {
        let state: ModelState | null = null;
        const logits: Float32Array[] = [];
        const grads: number[][] = [];
        for (const [s, n] of [[0, 40], [40, 3], [43, 64], [107, 43]] as const) {
          const piece = tf.slice(ids, [0, s], [1, n]);
          const r = model.forward(piece, state, { surprise: true, fast });
          piece.dispose();
          logits.push((r.logits.dataSync() as Float32Array).slice());
          r.logits.dispose();
          for (const l of r.surprise!) for (const rep of l) grads.push([...rep.gradNorm.flatMap((g) => [...g]), ...rep.momentumNorm]);
          disposeModelState(state);
          state = r.state;
        }
        disposeModelState(state);
        return { logits, grads };
      };
      const a = go(true);
      const b = go(false);
      a.logits.forEach((l, i) => close(`logits ${i}`, l, b.logits[i]!));
      expect(a.grads.length).toBe(b.grads.length);
      a.grads.forEach((g, i) => close(`surprise ${i}`, g, b.grads[i]!));
      ids.dispose();
      model.dispose();
    });
  });
}
