// Small tfjs helpers shared by the memory parts. Every op used here has a registered gradient on
// the cpu and wasm backends (docs/stack.md: no stridedSlice, no broadcast batched matMul, no einsum).

import * as tf from '@tensorflow/tfjs';

let splitBatchOnWasm = true;

/** whether mm() runs rank-3 products on wasm as separate 2-D products (default true; for benchmarks) */
export function setWasmBatchSplit(on: boolean): void {
  splitBatchOnWasm = on;
}

/**
 * Batched matMul that materialises transposes first on wasm, where transposed products are
 * 5-20x slower than plain ones (docs/stack.md). Batch dims of a and b must be equal (no broadcast).
 */
export function mm(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB);
  const t = (x: tf.Tensor) => {
    const perm = x.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return tf.transpose(x, perm);
  };
  const A = transposeA ? t(a) : a;
  const B = transposeB ? t(b) : b;
  // wasm's batched matMul is ~10x slower than its 2-D product (measured 0.8 vs 15 GFLOP/s at
  // [4,17,64]x[4,64,256]): run a rank-3 product as separate 2-D products (gradients flow through
  // unstack/stack)
  if (splitBatchOnWasm && A.rank === 3 && A.shape[0]! > 1 && A.shape[0]! <= 64) {
    const item = (x: tf.Tensor, i: number) => tf.reshape(tf.slice(x, [i, 0, 0], [1, x.shape[1]!, x.shape[2]!]), x.shape.slice(1));
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < A.shape[0]!; i++) outs.push(tf.matMul(item(A, i), item(B, i)));
    return tf.stack(outs);
  }
  return tf.matMul(A, B);
}

/** x [..., din] @ W [din, dout] (+ bias [dout]) -> [..., dout], flattening leading dims so that
 *  no broadcast batched matMul is needed (its gradient fails in tfjs). */
export function linear(x: tf.Tensor, W: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  const din = x.shape[x.shape.length - 1]!;
  const y = tf.matMul(tf.reshape(x, [-1, din]), W);
  const yb = bias ? tf.add(y, bias) : y;
  return tf.reshape(yb, [...lead, W.shape[1]!]);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** exact GELU z Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2 */
export function gelu(z: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, SQRT1_2))));
}

/** GELU'(z) = Phi(z) + z phi(z), phi(z) = exp(-z^2/2) / sqrt(2 pi) (docs/titans.md explicit gradient) */
export function geluGrad(z: tf.Tensor): tf.Tensor {
  const Phi = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(z, SQRT1_2))));
  const phi = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(tf.square(z), -0.5)));
  return tf.add(Phi, tf.mul(z, phi));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * scale (scale broadcast, optional) */
export function rmsNorm(x: tf.Tensor, scale: tf.Tensor | null, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  const y = tf.mul(x, tf.rsqrt(tf.add(ms, eps)));
  return scale ? tf.mul(y, scale) : y;
}

/** l2-normalise the last axis: x / max(||x||, eps) (written with rsqrt(max(sum x^2, eps^2)) so
 *  that a zero row has a finite gradient) */
export function l2Normalize(x: tf.Tensor, eps: number): tf.Tensor {
  const ss = tf.sum(tf.square(x), -1, true);
  return tf.mul(x, tf.rsqrt(tf.maximum(ss, eps * eps)));
}
