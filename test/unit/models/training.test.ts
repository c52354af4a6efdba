// The outer parameters train with an ordinary tfjs optimizer through the memory's inner update.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../models/memory/config.js';
import { NeuralMemory } from '../../../models/memory/neural-memory.js';
import { useBackend } from '../../helpers/models.js';

describe('training the outer parameters', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  it('Adam on a recall task lowers the loss (gradients flow through the inner update)', () => {
    const d = 16;
    const T = 32;
    const c = defaultConfig({ dim: d, heads: 2, chunkSize: 4, mode: 'titans' });
    const mem = new NeuralMemory(c, { seed: 7 });
    // sequences whose second half repeats the first: after the first half is stored, the memory
    // can recall the next token; loss = mean (retrieved_t - x_{t+1})^2 over the second half
    const half = tf.randomNormal([4, T / 2, d], 0, 1, 'float32', 8);
    const x = tf.concat([half, half], 1);
    const target = tf.slice(x, [0, T / 2 + 1, 0], [4, T / 2 - 1, d]);
    const opt = tf.train.adam(0.02);
    const lossFn = () =>
      tf.tidy(() => {
        const y = tf.slice(mem.forward(x).retrieved, [0, T / 2, 0], [4, T / 2 - 1, d]);
        return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
      });
    const before = Object.fromEntries(Object.entries(mem.params).map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()]));
    const losses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const l = opt.minimize(lossFn, true)!;
      losses.push(l.dataSync()[0]!);
      l.dispose();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(0.8 * losses[0]!);
    // every outer parameter, W0 and the gates included, received a gradient and moved
    for (const [k, v] of Object.entries(mem.params)) {
      const now = v.dataSync();
      const moved = before[k]!.some((b, i) => b !== now[i]);
      expect(moved, k).toBe(true);
    }
    tf.dispose([half, x, target]);
    opt.dispose();
    mem.dispose();
  });
});
