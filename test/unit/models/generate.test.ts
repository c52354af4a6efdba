import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig, type Architecture } from '../../../models/model/config.js';
import { generate, generateWithoutCache, randomSource, sampleToken } from '../../../models/model/generate.js';
import { disposeModelState, TitansModel } from '../../../models/model/model.js';
import { PrefixTree } from '../../../core/ask/spans.js';
import { useBackend } from '../../helpers/models.js';

beforeAll(async () => {
  await useBackend();
});

async function collect(gen: AsyncGenerator<number, unknown>): Promise<{ ids: number[]; state: unknown }> {
  const ids: number[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { ids, state: r.value };
    ids.push(r.value);
  }
}

describe('generation', () => {
  for (const arch of ['mac', 'mag'] as Architecture[]) {
    it(`${arch}: with the state as cache gives the same tokens as re-reading everything`, async () => {
      const model = new TitansModel(modelConfig({ arch, dim: 32, layers: 2, heads: 2, segment: 8, window: 6, vocabSize: 40, memory: { chunkSize: 4 } }), { seed: 7 });
      const prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
      for (const opts of [{ maxTokens: 14 }, { maxTokens: 14, temperature: 1.5, topP: 0.9, seed: 11 }]) {
        const before = tf.memory().numTensors;
        const cached = await collect(generate(model, prompt, opts));
        disposeModelState(cached.state as never);
        expect(tf.memory().numTensors).toBe(before);
        expect(cached.ids).toEqual(generateWithoutCache(model, prompt, opts));
        expect(cached.ids).toHaveLength(14);
      }
      model.dispose();
    });
  }

  it('stops at a stop token and when cancelled', async () => {
    const model = new TitansModel(modelConfig({ dim: 32, layers: 1, heads: 2, segment: 8, vocabSize: 40, memory: { chunkSize: 4 } }), { seed: 8 });
    const free = await collect(generate(model, [1, 2, 3], { maxTokens: 6 }));
    disposeModelState(free.state as never);
    const stopped = await collect(generate(model, [1, 2, 3], { maxTokens: 6, stop: [free.ids[1]!] }));
    disposeModelState(stopped.state as never);
    expect(stopped.ids).toEqual(free.ids.slice(0, free.ids.indexOf(free.ids[1]!) + 1));
    const controller = new AbortController();
    controller.abort();
    const cancelled = await collect(generate(model, [1, 2, 3], { maxTokens: 6, signal: controller.signal }));
    expect(cancelled.ids).toEqual([]);
    model.dispose();
  });
});

describe('constrained generation', () => {
  it('writes only sequences of the prefix tree, picks among them by the logits, and agrees with re-reading', async () => {
    const model = new TitansModel(modelConfig({ dim: 32, layers: 2, heads: 2, segment: 8, vocabSize: 40, memory: { chunkSize: 4 } }), { seed: 9 });
    const prompt = [3, 1, 4, 1, 5];
    const stop = 0;
    const free = await collect(generate(model, prompt, { maxTokens: 3 }));
    disposeModelState(free.state as never);
    // three sequences; the first begins with a token the free model would not write first
    const other = (free.ids[0]! + 1) % 40 || 1;
    const tree = new PrefixTree([[other, 7, stop], [other, 8, 9, stop], [free.ids[0]!, 11, stop]]);
    const opts = { maxTokens: 10, stop: [stop], allow: (done: readonly number[]) => tree.next(done) };
    const cached = await collect(generate(model, prompt, opts));
    disposeModelState(cached.state as never);
    expect([[other, 7, stop], [other, 8, 9, stop], [free.ids[0]!, 11, stop]]).toContainEqual(cached.ids);
    expect(cached.ids[0]).toBe(free.ids[0]); // the model's own choice wherever the tree allows it
    expect(cached.ids).toEqual(generateWithoutCache(model, prompt, opts));
    // a tree that offers one path forces it
    const forced = await collect(generate(model, prompt, { maxTokens: 10, stop: [stop], allow: (done) => new PrefixTree([[other, 8, 9, stop]]).next(done) }));
    disposeModelState(forced.state as never);
    expect(forced.ids).toEqual([other, 8, 9, stop]);
    model.dispose();
  });
});

describe('sampling', () => {
  const logits = Float32Array.from([0, 3, 1, 2.5, -1]);
  it('greedy takes the argmax', () => expect(sampleToken(logits, {}, Math.random)).toBe(1));
  it('top-p keeps only the nucleus', () => {
    const r = randomSource(1);
    const seen = new Set(Array.from({ length: 300 }, () => sampleToken(logits, { temperature: 1, topP: 0.6 }, r)));
    expect([...seen].sort()).toEqual([1, 3]);
  });
  it('temperature spreads the choice over the vocabulary', () => {
    const r = randomSource(2);
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 2000; i++) counts[sampleToken(logits, { temperature: 1 }, r)]++;
    const p = Array.from(logits, (v) => Math.exp(v));
    const z = p.reduce((a, b) => a + b);
    counts.forEach((c, i) => expect(Math.abs(c / 2000 - p[i]! / z)).toBeLessThan(0.04));
  });
});
