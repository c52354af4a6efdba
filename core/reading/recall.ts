// The recall probe (runs in the model worker): a cue is read under no memory and under each read
// document's memory. For each: the memory's own loss on the cue per layer (low: the memory knows
// it), the model's surprisal of the cue, and what the model writes after it (greedy).
import * as tf from '@tensorflow/tfjs';
import { chunkPadding } from '../../models/model/alignment.js';
import { hasMemory } from '../../models/model/config.js';
import { generate } from '../../models/model/generate.js';
import { disposeModelState, type ModelState, type TitansModel } from '../../models/model/model.js';
import type { Tokenizer } from '../../models/tokenizer/index.js';
import type { RecallResult } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { memoriesBy } from '../library/memories.js';
import type { BookMemories } from './book-memory.js';

interface Source {
  docId: number | null;
  title: string;
}

export async function recall(db: Db, model: TitansModel, tokenizer: Tokenizer, modelInfo: { id: string; name: string }, memories: BookMemories, cue: string, docIds: number[] | undefined, next: number): Promise<RecallResult> {
  const ids = tokenizer.encode(cue).ids;
  if (ids.length === 0) throw new ApiError('bad_request', 'The cue is empty.');
  // a finished reading's memory, else the last checkpoint of one in progress
  const docs: Source[] = memoriesBy(db, modelInfo.id, docIds);
  const chosen = docs;
  const sources: Source[] = [{ docId: null, title: 'No memory (a fresh state)' }, ...chosen];
  const layers = Array.from({ length: model.config.layers }, (_, l) => l).filter((l) => hasMemory(model.config, l));
  const rows: RecallResult['rows'] = [];
  const withMemory = (docId: number | null, f: (state: ModelState | null) => Promise<void>) => (docId === null ? f(null) : memories.use(docId, f));
  for (const src of sources) {
    await withMemory(src.docId, async (state) => {
      const { lmLoss, memLoss } = await scoreCue(model, tokenizer, state, ids, layers);
      let text = '';
      if (next > 0) {
        const out: number[] = [];
        const it = generate(model, ids, { maxTokens: next, state });
        for (let r = await it.next(); ; r = await it.next()) {
          if (r.done) {
            disposeModelState(r.value); // the state after the continuation: ours to free
            break;
          }
          out.push(r.value);
        }
        text = tokenizer.decode(out);
      }
      rows.push({ docId: src.docId, title: src.title, lmLoss, memLoss, next: text });
    });
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { modelId: modelInfo.id, modelName: modelInfo.name, cueTokens: ids.length, rows };
}

/** Read the cue (padded with spaces to finish its last memory chunk, so every cue token is stored and scored). */
async function scoreCue(model: TitansModel, tokenizer: Tokenizer, state: ModelState | null, ids: Int32Array, layers: number[]): Promise<{ lmLoss: number | null; memLoss: Array<number | null> }> {
  const pos = state?.pos ?? 0;
  const pad = chunkPadding(model.config, pos, ids.length);
  const space = tokenizer.encode(' ').ids[0] ?? 32;
  const input = Int32Array.from([...ids, ...Array.from({ length: pad }, () => space)]);
  const x = tf.tensor2d(input, [1, input.length], 'int32');
  let r: Awaited<ReturnType<TitansModel['forwardAsync']>>;
  try {
    r = await model.forwardAsync(x, state, { surprise: true }); // asynchronous reads: webgpu too
  } finally {
    x.dispose();
  }
  const V = model.config.vocabSize;
  const logp = tf.tidy(() => tf.logSoftmax(r.logits));
  let lp: Float32Array;
  try {
    lp = (await logp.data()) as Float32Array;
  } finally {
    tf.dispose([logp, r.logits]);
    disposeModelState(r.state);
  }
  let sum = 0;
  for (let t = 1; t < ids.length; t++) sum -= lp[(t - 1) * V + ids[t]!]!;
  const lmLoss = ids.length > 1 ? sum / (ids.length - 1) : null;
  const memLoss = layers.map((l) => {
    let s = 0;
    let n = 0;
    for (const rep of r.surprise![l]!) {
      for (let t = 0; t < rep.length; t++) {
        const p = rep.start + t;
        if (p < pos || p >= pos + ids.length) continue; // the document's own tail, or the padding
        for (let g = 0; g < rep.memories; g++) s += rep.loss[g * rep.length + t]!;
        n += rep.memories;
      }
    }
    return n > 0 ? s / n : null;
  });
  return { lmLoss, memLoss };
}
