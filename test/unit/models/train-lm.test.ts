// Training the real Titans model with the project's loop: held-out loss falls, nothing leaks over
// 200 steps (wasm, the backend training runs on here).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from '../../../models/model/config.js';
import { TitansModel } from '../../../models/model/model.js';
import { trainLanguageModel } from '../../../models/model/train-lm.js';
import { ByteTokenizer } from '../../../models/tokenizer/index.js';
import { makeBook } from '../../fixtures/texts.js';
import { useBackend } from '../../helpers/models.js';

beforeAll(async () => {
  await useBackend('wasm');
});

const tiny = () => modelConfig({ arch: 'mac', dim: 16, layers: 1, heads: 2, segment: 8, persistentTokens: 2, vocabSize: 260, memory: { chunkSize: 4, expansion: 2 } });
const texts = [makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 1 }), makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 2 })];

describe('training the language model', () => {
  it('lowers held-out loss', async () => {
    const model = new TitansModel(tiny(), { seed: 1 });
    const r = await trainLanguageModel({ model, tokenizer: new ByteTokenizer(), texts, steps: 40, batchSize: 4, seqLen: 16, peakLr: 1e-2, evalWindows: 16 });
    expect(r.heldOutAfter).toBeLessThan(r.heldOutBefore - 0.5);
    expect(r.losses).toHaveLength(40);
    model.dispose();
  });

  it('leaks no tensors over 200 steps', async () => {
    const model = new TitansModel(tiny(), { seed: 2 });
    const counts: number[] = [];
    await trainLanguageModel({
      model,
      tokenizer: new ByteTokenizer(),
      texts,
      steps: 200,
      batchSize: 2,
      seqLen: 8,
      onStep: (m) => {
        if (m.step === 10 || m.step === 200) counts.push(tf.memory().numTensors);
      },
    });
    expect(counts).toHaveLength(2);
    expect(counts[1]).toBe(counts[0]);
    model.dispose();
  });
});
