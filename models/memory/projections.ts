// Query / key / value projections of the memory (docs/titans.md section 1, paper section 3.1 and 4.4):
//   'titans':    k_t = l2(SiLU(conv4(x_t W_K))), v_t = SiLU(conv4(x_t W_V)), q_t = l2(SiLU(conv4(x_t W_Q)))
//   'reference': k_t = act(x_t W_K) etc. (titans-pytorch: linear, optional activation)
// followed, when configured, by a per-head RMSNorm with learned (gamma + 1) on q and k.
// Inputs to store and to retrieve each get their own RMSNorm first (done by the caller).

import * as tf from '@tensorflow/tfjs';
import type { NeuralMemoryConfig } from './config.js';
import { l2Normalize, linear, rmsNorm, silu } from './ops.js';

/**
 * Causal depthwise 1-D convolution built from shifted slices (no depthwiseConv2d: its gradient is
 * missing on wasm, docs/stack.md): y_t = sum_{j<K} w_j * x_{t-(K-1)+j}, zeros before the first row.
 * x [B, T, C], w [K, C] -> [B, T, C]. Tap K-1 multiplies the current token.
 */
export function causalDepthwiseConv(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const [B, T, C] = x.shape as [number, number, number];
  const K = w.shape[0]!;
  let y: tf.Tensor | null = null;
  for (let j = 0; j < K; j++) {
    const shift = K - 1 - j;
    if (shift >= T) continue;
    const wj = tf.reshape(tf.slice(w, [j, 0], [1, C]), [1, 1, C]); // w_j [1,1,C]
    // x shifted down by `shift` rows: rows t read x_{t-shift}, zero-padded at the start
    const xs = shift === 0 ? x : tf.pad(tf.slice(x, [0, 0, 0], [B, T - shift, C]), [[0, 0], [shift, 0], [0, 0]]);
    const term = tf.mul(xs, wj);
    y = y ? tf.add(y, term) : term;
  }
  return y ?? tf.zerosLike(x);
}

/** [B, T, h*dh] -> [B*h, T, dh] (memory index g = b*h + head) */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [B, T, inner] = x.shape as [number, number, number];
  const dh = inner / heads;
  return tf.reshape(tf.transpose(tf.reshape(x, [B, T, heads, dh]), [0, 2, 1, 3]), [B * heads, T, dh]);
}

/** [B*h, T, dh] -> [B, T, h*dh] */
export function mergeHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [G, T, dh] = x.shape as [number, number, number];
  const B = G / heads;
  return tf.reshape(tf.transpose(tf.reshape(x, [B, heads, T, dh]), [0, 2, 1, 3]), [B, T, heads * dh]);
}

/** per-head RMSNorm with scale (gamma + 1): x [B*h, T, dh], gamma [h, dh] */
export function multiheadRmsNorm(x: tf.Tensor, gamma: tf.Tensor, heads: number, eps: number): tf.Tensor {
  const [G, T, dh] = x.shape as [number, number, number];
  const B = G / heads;
  const y = rmsNorm(tf.reshape(x, [B, heads, T, dh]), tf.reshape(tf.add(gamma, 1), [1, heads, 1, dh]), eps);
  return tf.reshape(y, [G, T, dh]);
}

export type ProjKind = 'q' | 'k' | 'v';

/**
 * One projection for all heads. x [B, T, d] (already RMS-normed) -> [B*h, T, dh].
 * p: the outer parameters (wq/wk/wv [d, h*dh], convQ/K/V [K, h*dh], qNorm/kNorm [h, dh]).
 */
export function project(c: NeuralMemoryConfig, p: Record<string, tf.Tensor>, x: tf.Tensor, kind: ProjKind): tf.Tensor {
  const W = p[`w${kind}`]!;
  let y = linear(x, W); // x W                                        [B,T,h*dh]
  if (c.mode === 'titans') {
    const conv = p[`conv${kind.toUpperCase()}`]!;
    y = silu(causalDepthwiseConv(y, conv)); // SiLU(conv4(x W))
  } else if (c.activation === 'silu') {
    y = silu(y);
  }
  let yh = splitHeads(y, c.heads); //                                   [B*h,T,dh]
  if (kind !== 'v') {
    if (c.mode === 'titans') yh = l2Normalize(yh, c.l2Eps); // q and k are l2-normalised
    if (c.qkRmsNorm) yh = multiheadRmsNorm(yh, p[`${kind}Norm`]!, c.heads, c.rmsEps);
  }
  return yh;
}
