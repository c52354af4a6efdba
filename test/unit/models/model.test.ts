// The language model around the memory: every architecture reads a text in pieces exactly as in one
// call, is causal, trains (finite gradients that lower the loss), and does not leak tensors.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig, type Architecture } from '../../../models/model/config.js';
import { crossEntropy, disposeModelState, TitansModel } from '../../../models/model/model.js';
import { compare, useBackend } from '../../helpers/models.js';

beforeAll(async () => {
  await useBackend();
});

const ARCHS: Architecture[] = ['mac', 'mag', 'mal', 'lmm'];

function small(arch: Architecture, over: Parameters<typeof modelConfig>[0] = {}) {
  return modelConfig({ arch, dim: 32, layers: 2, heads: 2, segment: 8, window: 6, persistentTokens: 2, vocabSize: 40, memory: { chunkSize: 4, heads: 1 }, ...over });
}

function ids(T: number, seed: number, V = 40): number[] {
  let s = seed;
  return Array.from({ length: T }, () => (s = (s * 1103515245 + 12345) % 2147483648) % V);
}

const toTensor = (xs: number[][]) => tf.tensor2d(xs, [xs.length, xs[0]!.length], 'int32');

describe.each(ARCHS)('%s', (arch) => {
  it('reads a text in pieces exactly as in one call (state carried across calls)', () => {
    const model = new TitansModel(small(arch), { seed: 1 });
    const seq = ids(29, 3);
    const whole = model.forward(toTensor([seq]));
    const cuts = [0, 5, 6, 17, 29]; // pieces that start and end mid-segment and mid-chunk
    let state = null;
    const parts: Float32Array[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const r = model.forward(toTensor([seq.slice(cuts[i], cuts[i + 1])]), state);
      disposeModelState(state);
      state = r.state;
      parts.push(r.logits.dataSync() as Float32Array);
      r.logits.dispose();
    }
    const joined = Float32Array.from(parts.flatMap((p) => Array.from(p)));
    const { maxAbs } = compare(joined, whole.logits.dataSync());
    expect(maxAbs).toBeLessThan(2e-4);
    expect(state!.pos).toBe(29);
    disposeModelState(state);
    disposeModelState(whole.state);
    whole.logits.dispose();
    model.dispose();
  });

  it('is causal: changing token j changes no output before j', () => {
    const model = new TitansModel(small(arch), { seed: 2 });
    const a = ids(24, 5);
    const b = a.slice();
    const j = 13;
    b[j] = (b[j]! + 7) % 40;
    const ra = model.forward(toTensor([a]));
    const rb = model.forward(toTensor([b]));
    const la = ra.logits.arraySync() as number[][][];
    const lb = rb.logits.arraySync() as number[][][];
    for (let t = 0; t < j; t++) expect(compare(la[0]![t]!, lb[0]![t]!).maxAbs, `position ${t}`).toBeLessThan(1e-5);
    expect(compare(la[0]![j]!, lb[0]![j]!).maxAbs).toBeGreaterThan(1e-4);
    for (const r of [ra, rb]) {
      r.logits.dispose();
      disposeModelState(r.state);
    }
    model.dispose();
  });

  it('has finite gradients for every parameter, and a few steps lower the loss', () => {
    const model = new TitansModel(small(arch), { seed: 3 });
    const pattern = [1, 2, 3, 4, 5, 6, 7, 8];
    const batch = toTensor([Array.from({ length: 25 }, (_, i) => pattern[i % 8]!), Array.from({ length: 25 }, (_, i) => pattern[(i + 3) % 8]!)]);
    const vars = Object.values(model.params.all);
    const opt = tf.train.adam(0.03);
    const first = model.loss(batch).dataSync()[0]!;
    for (let step = 0; step < 8; step++) {
      const { value, grads } = tf.variableGrads(() => model.loss(batch), vars);
      if (step === 0) {
        for (const [name, g] of Object.entries(grads)) expect(Number.isFinite(g.sum().dataSync()[0]), name).toBe(true);
        const used = Object.values(grads).filter((g) => g.abs().max().dataSync()[0]! > 0).length;
        expect(used).toBeGreaterThan(vars.length * 0.7);
      }
      opt.applyGradients(grads as Record<string, tf.Variable>);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const last = model.loss(batch).dataSync()[0]!;
    expect(last).toBeLessThan(first * 0.7);
    opt.dispose();
    batch.dispose();
    model.dispose();
  });
});

describe('model', () => {
  it('switching the memory off removes its parameters (the ablation baseline)', () => {
    const on = new TitansModel(small('mac'), { seed: 1 });
    const off = new TitansModel(small('mac', { useMemory: false }), { seed: 1 });
    expect(Object.keys(on.params.all).some((k) => k.includes('.mem.'))).toBe(true);
    expect(Object.keys(off.params.all).some((k) => k.includes('.mem.'))).toBe(false);
    expect(off.params.memories.every((m) => m === null)).toBe(true);
    on.dispose();
    off.dispose();
  });

  it('returns per-layer surprise for the tokens whose chunks completed', () => {
    const model = new TitansModel(small('mac'), { seed: 4 });
    const r = model.forward(toTensor([ids(16, 9)]), null, { surprise: true });
    expect(r.surprise).toHaveLength(2);
    const covered = r.surprise![0]!.reduce((n, s) => n + s.length, 0);
    expect(covered).toBe(16);
    for (const s of r.surprise![0]!) for (const v of s.loss) expect(Number.isFinite(v)).toBe(true);
    r.logits.dispose();
    disposeModelState(r.state);
    model.dispose();
  });

  it('leaks no tensors across forward calls with state', () => {
    const model = new TitansModel(small('mac'), { seed: 5 });
    let state = model.forward(toTensor([ids(8, 1)])).state;
    const step = () => {
      const x = toTensor([ids(5, 2)]);
      const r = model.forward(x, state);
      x.dispose();
      r.logits.dispose();
      disposeModelState(state);
      state = r.state;
    };
    for (let i = 0; i < 3; i++) step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    disposeModelState(state);
    model.dispose();
  });
});

describe('cross-entropy', () => {
  it('is the mean of the rows, or their weighted mean', () => {
    const logits = tf.tensor2d([[2, 0, -1], [0, 1, 0], [-1, 0, 3]]);
    const targets = tf.tensor1d([0, 2, 2], 'int32');
    const lp = tf.logSoftmax(logits).arraySync() as number[][];
    const nll = [-lp[0]![0]!, -lp[1]![2]!, -lp[2]![2]!];
    expect(crossEntropy(logits, targets, 3).dataSync()[0]).toBeCloseTo((nll[0]! + nll[1]! + nll[2]!) / 3, 5);
    expect(crossEntropy(logits, targets, 3, tf.tensor1d([1, 0.1, 0])).dataSync()[0]).toBeCloseTo((nll[0]! + 0.1 * nll[1]!) / 1.1, 5);
  });
});
