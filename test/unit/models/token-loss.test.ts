// Per-token losses for `eval perplexity` (models/model/token-loss.ts): reading with the memory in
// pieces equals one call's losses, the reset ablation equals it within one segment and not beyond,
// and the memory-off ablation ignores the memory's weights.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from '../../../models/model/config.js';
import { TitansModel } from '../../../models/model/model.js';
import { bitsPerByte, tokenLosses } from '../../../models/model/token-loss.js';
import { useBackend } from '../../helpers/models.js';

beforeAll(() => useBackend());

const config = modelConfig({ arch: 'mac', dim: 32, layers: 2, heads: 2, segment: 8, persistentTokens: 2, vocabSize: 40, memory: { chunkSize: 4, heads: 1 } });
function ids(T: number, seed: number): Int32Array {
  let s = seed;
  return Int32Array.from({ length: T }, () => (s = (s * 1103515245 + 12345) % 2147483648) % 40);
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('tokenLosses', () => {
  it('with memory: the mean equals the training loss, and reading in pieces equals one call', () => {
    const model = new TitansModel(config, { seed: 2 });
    const seq = ids(41, 5);
    const one = tokenLosses(model, seq, 'memory', { chunk: 512 });
    expect(one.length).toBe(40);
    const loss = tf.tidy(() => model.loss(tf.tensor2d(seq, [1, seq.length], 'int32')));
    expect(Math.abs(one.reduce((a, b) => a + b, 0) / one.length - loss.dataSync()[0]!)).toBeLessThan(1e-5);
    loss.dispose();
    expect(maxDiff(tokenLosses(model, seq, 'memory', { chunk: 5 }), one)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('reset: the same as reading within the first segment, different after it; batched like one at a time', () => {
    const model = new TitansModel(config, { seed: 2 });
    const seq = ids(35, 7);
    const memory = tokenLosses(model, seq, 'memory');
    const reset = tokenLosses(model, seq, 'reset', { chunk: 512 });
    expect(maxDiff(reset.subarray(0, 8), memory.subarray(0, 8))).toBeLessThan(1e-4);
    expect(maxDiff(reset.subarray(8), memory.subarray(8))).toBeGreaterThan(1e-3);
    expect(maxDiff(tokenLosses(model, seq, 'reset', { chunk: 8 }), reset)).toBeLessThan(1e-4);
    // each segment alone, from a fresh state
    const seg = tokenLosses(model, seq.subarray(16, 25), 'memory');
    expect(maxDiff(reset.subarray(16, 24), seg)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('off: does not depend on the memory’s weights; with memory it does', () => {
    const model = new TitansModel(config, { seed: 2 });
    const seq = ids(30, 9);
    const off = tokenLosses(model, seq, 'off');
    const memory = tokenLosses(model, seq, 'memory');
    for (const mem of model.params.memories) for (const v of Object.values(mem!.params)) v.assign(tf.mul(v, 1.5));
    expect(maxDiff(tokenLosses(model, seq, 'off'), off)).toBe(0);
    expect(maxDiff(tokenLosses(model, seq, 'memory'), memory)).toBeGreaterThan(1e-3);
    model.dispose();
  });
});

describe('bitsPerByte', () => {
  it('is nats / ln 2 / bytes over the range', () => {
    const losses = Float32Array.from([Math.LN2, 2 * Math.LN2, 3 * Math.LN2]);
    expect(bitsPerByte(losses, [1, 1, 2])).toBeCloseTo(6 / 4, 6);
    expect(bitsPerByte(losses, [1, 1, 2], 1, 2)).toBeCloseTo(2, 6);
  });
});
