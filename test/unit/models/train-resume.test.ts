// A training run interrupted and resumed from its checkpoint matches an uninterrupted one exactly
// (cpu backend: plain JavaScript arithmetic, deterministic to the bit).
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from '../../../models/model/config.js';
import { TitansModel } from '../../../models/model/model.js';
import { trainLanguageModel } from '../../../models/model/train-lm.js';
import { ByteTokenizer } from '../../../models/tokenizer/index.js';
import { makeBook, tempDir } from '../../fixtures/texts.js';
import { useBackend } from '../../helpers/models.js';

beforeAll(async () => {
  await useBackend(process.env.TITANS_TEST_BACKEND ?? 'cpu');
});

const tiny = () => modelConfig({ arch: 'mac', dim: 16, layers: 1, heads: 2, segment: 8, persistentTokens: 2, vocabSize: 260, memory: { chunkSize: 4, expansion: 2 } });
const texts = [makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 1 }), makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 2 })];

describe('resuming training', () => {
  it('resumes from its checkpoint with the same losses as an uninterrupted run', async () => {
    const dir = tempDir();
    const opts = { tokenizer: new ByteTokenizer(), texts, steps: 12, batchSize: 2, seqLen: 16, seed: 5 };
    const straight = new TitansModel(tiny(), { seed: 3 });
    const full = await trainLanguageModel({ ...opts, model: straight });

    const resumed = new TitansModel(tiny(), { seed: 3 });
    const controller = new AbortController();
    const file = path.join(dir, 'run.trd');
    const first = await trainLanguageModel({
      ...opts,
      model: resumed,
      checkpointPath: file,
      checkpointEvery: 100,
      signal: controller.signal,
      onStep: (m) => {
        if (m.step === 5) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    const again = new TitansModel(tiny(), { seed: 99 }); // a fresh process would start from other weights
    const second = await trainLanguageModel({ ...opts, model: again, checkpointPath: file });
    const losses = [...first.losses, ...second.losses];
    expect(losses).toHaveLength(12);
    losses.forEach((l, i) => expect(l, `step ${i + 1}`).toBe(full.losses[i]));
    for (const [name, v] of Object.entries(straight.params.all)) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(v, again.params.all[name]!))).dataSync()[0]!);
      expect(diff, name).toBe(0);
    }
    for (const m of [straight, resumed, again]) m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
