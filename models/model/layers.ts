// The transformer parts around the memory (docs/titans.md section 3, "Llama-style" blocks): token
// embedding with a gradient that works on every backend, RMSNorm, RoPE, SwiGLU, and the attention
// core with an explicit mask. Shapes in comments; B batch, T tokens, d width, H heads, D head width.
import * as tf from '@tensorflow/tfjs';
import { linear, mm } from '../memory/ops.js';

/**
 * Embedding lookup ids [B, T] -> [B, T, d]. The gradient is written as oneHot^T dy, because
 * gather's gradient (UnsortedSegmentSum) is missing on wasm (docs/stack.md).
 */
export function embed(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [V, d] = table.shape as [number, number];
  const [B, T] = ids.shape as [number, number];
  const flat = tf.reshape(ids, [B * T]);
  // The ids are saved with the tape: a closure would see them disposed by an enclosing tidy.
  const f = tf.customGrad(((tab: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
    save([flat]);
    return {
      value: tf.reshape(tf.gather(tab, flat), [B, T, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const oh = tf.oneHot(saved[0] as tf.Tensor1D, V); // [B*T, V]
        return mm(oh, tf.reshape(dy, [B * T, d]), true, false); // [V, d]
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(table);
}

/** RoPE tables for absolute positions [start, start + T): cos, sin [T, D/2] */
export function ropeTables(start: number, T: number, D: number, base: number): { cos: tf.Tensor; sin: tf.Tensor } {
  const half = D / 2;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (start + t) / Math.pow(base, (2 * i) / D);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [T, half]), sin: tf.tensor2d(sin, [T, half]) };
}

/** Rotate pairs (x_i, x_{i+D/2}) of x [N, T, D] by the position's angles (rotate-half RoPE). */
export function applyRope(x: tf.Tensor, rope: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor {
  const [N, T, D] = x.shape as [number, number, number];
  const half = D / 2;
  const x1 = tf.slice(x, [0, 0, 0], [N, T, half]);
  const x2 = tf.slice(x, [0, 0, half], [N, T, half]);
  return tf.concat([tf.sub(tf.mul(x1, rope.cos), tf.mul(x2, rope.sin)), tf.add(tf.mul(x2, rope.cos), tf.mul(x1, rope.sin))], 2);
}

/** [B, T, H*D] -> [B*H, T, D] */
export function toHeads(x: tf.Tensor, H: number): tf.Tensor {
  const [B, T, HD] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [B, T, H, HD / H]), [0, 2, 1, 3]), [B * H, T, HD / H]);
}

/** [B*H, T, D] -> [B, T, H*D] */
export function fromHeads(x: tf.Tensor, H: number): tf.Tensor {
  const [BH, T, D] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [BH / H, H, T, D]), [0, 2, 1, 3]), [BH / H, T, H * D]);
}

/**
 * softmax(q k^T / sqrt(D) + mask) v for q [N, Tq, D], k, v [N, Tk, D]; mask [Tq, Tk] holds 0 where
 * attention is allowed and -1e9 where not (shared by all N = batch x heads).
 */
export function attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const D = q.shape[2]!;
  const scores = tf.add(tf.mul(mm(q, k, false, true), 1 / Math.sqrt(D)), mask); // [N, Tq, Tk]
  return mm(tf.softmax(scores), v); //                                                 [N, Tq, D]
}

export const MASKED = -1e9;

/** Build an additive mask [Tq, Tk] from a predicate on (query index, key index). */
export function maskFrom(Tq: number, Tk: number, allowed: (q: number, k: number) => boolean): tf.Tensor {
  const m = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) m[i * Tk + j] = allowed(i, j) ? 0 : MASKED;
  return tf.tensor2d(m, [Tq, Tk]);
}

/** SwiGLU feed-forward: (silu(x W1) * (x W3)) W2 */
export function swiglu(x: tf.Tensor, w1: tf.Tensor, w3: tf.Tensor, w2: tf.Tensor): tf.Tensor {
  const a = linear(x, w1);
  return linear(tf.mul(tf.mul(a, tf.sigmoid(a)), linear(x, w3)), w2);
}
