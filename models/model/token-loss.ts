// Per-token loss of a text under the model, the way the app reads it, and two ablations of the
// long-term memory (issue: "The memory's effect, measured"):
//   'memory'   one pass with the state carried across calls: the neural memory learns the text as
//              it reads (test-time training) and every segment reads what came before from it;
//   'reset'    the state is reset at every attention segment (MAC) or window (MAG/MAL): the same
//              weights, but nothing is carried from one segment to the next;
//   'off'      the memory switched off (config.useMemory = false, the same other weights): no
//              retrieval, no update, no output gate. LMM has no memory-free form.
import * as tf from '@tensorflow/tfjs';
import { attentionSegment } from './config.js';
import { disposeModelState, TitansModel, type ModelState } from './model.js';

export type MemoryMode = 'memory' | 'reset' | 'off';

/** −ln p(target) per row of logits [N, V] for targets [N]. */
function rowLosses(logits: tf.Tensor, targets: Int32Array): Float32Array {
  const t = tf.tidy(() => {
    const V = logits.shape[logits.shape.length - 1]!;
    const logp = tf.logSoftmax(tf.reshape(logits, [-1, V]));
    return tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), 1));
  });
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

function run(m: TitansModel, x: Int32Array, shape: [number, number], state: ModelState | null) {
  const t = tf.tensor2d(x, shape, 'int32');
  try {
    return m.forward(t, state);
  } finally {
    t.dispose();
  }
}

/** The model without its memory, sharing the other weights (not to be disposed: it owns nothing). */
export function withoutMemory(model: TitansModel): TitansModel {
  if (model.config.arch === 'lmm') throw new Error('an LMM model is its memory: it has no form without it');
  return new TitansModel({ ...model.config, useMemory: false }, { params: { all: model.params.all, memories: model.params.memories.map(() => null) } });
}

/**
 * Losses[i] = −ln p(ids[i + 1] | ids[0..i]) in nats, for i in [0, ids.length − 1).
 * `onProgress(done, total)` after each call of the model.
 */
export function tokenLosses(model: TitansModel, ids: Int32Array, mode: MemoryMode, o: { chunk?: number; onProgress?: (done: number, total: number) => void } = {}): Float32Array {
  const n = ids.length - 1;
  const out = new Float32Array(Math.max(0, n));
  if (n <= 0) return out;
  const inputs = ids.subarray(0, n);
  const targets = ids.subarray(1);
  if (mode === 'reset') {
    // independent spans from a fresh state, several at a time as a batch
    const span = attentionSegment(model.config) ?? model.config.window;
    // one span per call by default: on wasm a batch of spans is slower than the same spans one by one
    const perBatch = Math.max(1, Math.floor((o.chunk ?? span) / span));
    const whole = Math.floor(n / span);
    for (let s = 0; s < whole; s += perBatch) {
      const B = Math.min(perBatch, whole - s);
      const x = inputs.subarray(s * span, (s + B) * span);
      const r = run(model, x, [B, span], null);
      out.set(rowLosses(r.logits, targets.subarray(s * span, (s + B) * span)), s * span);
      r.logits.dispose();
      disposeModelState(r.state);
      o.onProgress?.((s + B) * span, n);
    }
    if (whole * span < n) {
      const x = inputs.subarray(whole * span);
      const r = run(model, x, [1, x.length], null);
      out.set(rowLosses(r.logits, targets.subarray(whole * span)), whole * span);
      r.logits.dispose();
      disposeModelState(r.state);
    }
    o.onProgress?.(n, n);
    return out;
  }
  const m = mode === 'off' ? withoutMemory(model) : model;
  const chunk = o.chunk ?? 512;
  let state: ModelState | null = null;
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    const r = run(m, inputs.subarray(s, e), [1, e - s], state);
    if (state) disposeModelState(state);
    state = r.state;
    out.set(rowLosses(r.logits, targets.subarray(s, e)), s);
    r.logits.dispose();
    o.onProgress?.(e, n);
  }
  if (state) disposeModelState(state);
  return out;
}

/** Bits per byte over token ranges: sum of losses / ln 2 / the bytes the predicted tokens stand for. */
export function bitsPerByte(losses: Float32Array, targetBytes: Uint32Array | number[], from = 0, to = losses.length): number {
  let nats = 0;
  let bytes = 0;
  for (let i = from; i < to; i++) {
    nats += losses[i]!;
    bytes += targetBytes[i]!;
  }
  return bytes > 0 ? nats / Math.LN2 / bytes : NaN;
}
