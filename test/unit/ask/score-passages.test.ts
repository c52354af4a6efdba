// The model's passage score: gain = NLL(question | memory) - NLL(question | memory, passage), read
// in one chunked forward call, checked against reading the same tokens one at a time.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BookMemories } from '../../../core/reading/book-memory.js';
import { scorePassages } from '../../../core/ask/score-passages.js';
import { disposeModelState, TitansModel, type ModelState } from '../../../models/model/model.js';
import { ByteTokenizer } from '../../../models/tokenizer/index.js';
import type { Db } from '../../../core/library/database.js';
import { tinyReaderConfig } from '../../fixtures/reader-model.js';
import { useBackend } from '../../helpers/models.js';

beforeAll(async () => {
  await useBackend();
});

/** Mean surprisal of `question`'s tokens after `prefix`, reading one token per forward call. */
function stepwise(model: TitansModel, tok: ByteTokenizer, prefix: string, question: string): number {
  const before = tok.encode(prefix).ids;
  const asked = tok.encode(question).ids;
  const ids = [...before, ...asked];
  let state: ModelState | null = null;
  let sum = 0;
  for (let t = 0; t < ids.length - 1; t++) {
    const r = model.forward(tf.tensor2d([[ids[t]!]], [1, 1], 'int32'), state);
    disposeModelState(state);
    state = r.state;
    const lp = tf.tidy(() => tf.logSoftmax(r.logits).dataSync() as Float32Array);
    r.logits.dispose();
    if (t + 1 >= before.length) sum -= lp[ids[t + 1]!]!;
  }
  disposeModelState(state);
  return sum / asked.length;
}

describe('passage scores', () => {
  it('are the gain in the question’s surprisal, equal to reading token by token; an empty passage gains nothing', async () => {
    const model = new TitansModel(tinyReaderConfig(), { seed: 5 });
    const tok = new ByteTokenizer();
    const question = 'Where did the keeper put the lamp?';
    const passages = [
      { docId: 1, text: 'The keeper put the lamp in the tower room, beside the stairs.' },
      { docId: 1, text: '' },
      { docId: 2, text: 'Rain fell on the harbour all night long.' },
    ];
    const tensors = tf.memory().numTensors;
    const scores = await scorePassages(model, tok, new BookMemories(null as unknown as Db, 'm'), { question, passages, useMemory: false });
    expect(tf.memory().numTensors).toBe(tensors); // nothing left behind in the long-lived worker
    expect(scores).toHaveLength(3);
    expect(scores[1]).toBeCloseTo(0, 6);
    const base = stepwise(model, tok, '\nQuestion:', ` ${question}`);
    for (const i of [0, 2]) {
      const expected = base - stepwise(model, tok, `${passages[i]!.text}\nQuestion:`, ` ${question}`);
      expect(Math.abs(scores[i]! - expected)).toBeLessThan(1e-4);
      expect(scores[i]).not.toBe(0);
    }
    model.dispose();
  });
});
