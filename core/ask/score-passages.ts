// The model scores candidate passages with each book's memory loaded (runs in the model worker):
// how much better the model predicts the question's words after reading a passage than without it,
// both on top of the book's memory. gain(p) = NLL(question | memory) - NLL(question | memory, p),
// in nats per token of the question: positive when the passage makes the question expected.
import * as tf from '@tensorflow/tfjs';
import { disposeModelState, type ModelState, type TitansModel } from '../../models/model/model.js';
import type { Tokenizer } from '../../models/tokenizer/index.js';
import type { BookMemories } from '../reading/book-memory.js';

/** Mean surprisal (nats per token) of the question's tokens read after `context`, from `state`. */
async function questionLoss(model: TitansModel, tokenizer: Tokenizer, state: ModelState | null, context: string, question: string): Promise<number> {
  const before = tokenizer.encode(`${context}\nQuestion:`).ids;
  const asked = tokenizer.encode(` ${question}`).ids;
  const ids = Int32Array.from([...before, ...asked]);
  const x = tf.tensor2d(ids, [1, ids.length], 'int32');
  const r = model.forward(x, state);
  x.dispose();
  const V = model.config.vocabSize;
  const logp = tf.tidy(() => tf.logSoftmax(r.logits));
  r.logits.dispose();
  disposeModelState(r.state);
  let lp: Float32Array;
  try {
    lp = (await logp.data()) as Float32Array; // asynchronously: the webgpu backend cannot read synchronously
  } finally {
    logp.dispose();
  }
  let sum = 0;
  for (let t = before.length; t < ids.length; t++) sum -= lp[(t - 1) * V + ids[t]!]!;
  return sum / asked.length;
}

export async function scorePassages(model: TitansModel, tokenizer: Tokenizer, memories: BookMemories, req: { question: string; passages: Array<{ docId: number; text: string }>; useMemory: boolean }): Promise<number[]> {
  const scores = new Array<number>(req.passages.length).fill(0);
  for (const docId of new Set(req.passages.map((p) => p.docId))) {
    await memories.use(
      docId,
      async (state) => {
        const base = await questionLoss(model, tokenizer, state, '', req.question);
        for (const [i, p] of req.passages.entries()) {
          if (p.docId === docId) scores[i] = base - (await questionLoss(model, tokenizer, state, p.text, req.question));
        }
      },
      req.useMemory,
    );
  }
  return scores;
}
