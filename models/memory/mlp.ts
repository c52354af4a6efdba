// The memory MLP M_W (docs/titans.md section 1, "Memory model M_W"), its per-token loss (paper Eq. 12)
// and its explicit inner gradient (docs/titans.md "Explicit inner gradient"), batched over
// G = batch x heads independent memories. No nested tf.grad: the inner gradient is written with
// matmuls, so ordinary tfjs autodiff through it gives the outer (second-order) gradients.
//
// Fast weights of G memories, in memParamNames order (config.ts):
//   gamma [G, dh]              (only when normResidual)
//   W_l   [G, dims[l], dims[l+1]]   l = 0..L-1, dims = (dh, hidden x (L-1), dh)

import * as tf from '@tensorflow/tfjs';
import { type NeuralMemoryConfig, memLayerDims } from './config.js';
import { gelu, geluGrad, mm } from './ops.js';

export type FastWeights = tf.Tensor[];

export interface MemForward {
  /** layer inputs X_0 = K [G,n,dh], X_l = gelu(Z_l) [G,n,hidden] */
  xs: tf.Tensor[];
  /** pre-activations Z_l = X_{l-1} W_l; the last one is H [G,n,dh] */
  zs: tf.Tensor[];
  /** (H - mu) / s [G,n,dh] (normResidual) */
  Nn: tf.Tensor | null;
  /** sqrt(rowmean((H - mu)^2) + eps) [G,n,1] (normResidual) */
  s: tf.Tensor | null;
  /** M_W(X) [G,n,dh] */
  P: tf.Tensor;
}

function splitWeights(c: NeuralMemoryConfig, w: FastWeights): { gamma: tf.Tensor | null; layers: tf.Tensor[] } {
  return c.normResidual ? { gamma: w[0]!, layers: w.slice(1) } : { gamma: null, layers: w };
}

/** M_W(X) = X + LN(W_L gelu(... gelu(X W_1))) * (gamma + 1); X [G,n,dh] -> [G,n,dh] */
export function memForward(c: NeuralMemoryConfig, w: FastWeights, X: tf.Tensor): MemForward {
  const { gamma, layers } = splitWeights(c, w);
  const xs: tf.Tensor[] = [X];
  const zs: tf.Tensor[] = [];
  let cur = X;
  for (let l = 0; l < c.depth; l++) {
    const Z = mm(cur, layers[l]!); // Z_l = X_{l-1} W_l            [G,n,dims[l+1]]
    zs.push(Z);
    if (l < c.depth - 1) {
      cur = gelu(Z); // X_l = gelu(Z_l), exact (erf) GELU
      xs.push(cur);
    }
  }
  const H = zs[c.depth - 1]!; // H = A_{L-1} W_L                   [G,n,dh]
  if (!gamma) return { xs, zs, Nn: null, s: null, P: H };
  const mu = tf.mean(H, -1, true); // mu = rowmean(H)              [G,n,1]
  const Hc = tf.sub(H, mu);
  const s = tf.sqrt(tf.add(tf.mean(tf.square(Hc), -1, true), c.lnEps)); // s = sqrt(rowmean((H-mu)^2) + 1e-5)
  const Nn = tf.div(Hc, s); // Nn = (H - mu) / s                   [G,n,dh]
  const g1 = tf.expandDims(tf.add(gamma, 1), 1); // gamma + 1       [G,1,dh]
  const P = tf.add(X, tf.mul(Nn, g1)); // P = K + Nn (gamma + 1)   [G,n,dh]
  return { xs, zs, Nn, s, P };
}

export interface ChunkGrads {
  /** per chunk surprise gradients g = grad_W sum_{i in chunk} theta_i l_i, each [G, m, ...w] */
  grads: tf.Tensor[];
  /** unweighted per-token loss l_t = mean_d (M_W(k_t) - v_t)^2, [G, m*b] */
  loss: tf.Tensor;
  /** per fast-weight tensor, per token ||grad_W l_t|| (own, unweighted loss) [G, m*b]; only
   *  when requested (rank-1 structure: ||x (x) dz|| = ||x|| ||dz||) */
  tokenGradNorms: tf.Tensor[] | null;
  /** M_W(extra) when extra rows were given (retrieval at the same weights, one forward for both) */
  extraP: tf.Tensor | null;
}

/**
 * Explicit gradients of m consecutive chunks of b tokens, all taken at the same weights w
 * (docs/titans.md "Explicit inner gradient"; chunks that share gradient weights are batched).
 * K, V [G, m*b, dh]; theta [G, m*b].
 */
export function memChunkGrads(
  c: NeuralMemoryConfig,
  w: FastWeights,
  K: tf.Tensor,
  V: tf.Tensor,
  theta: tf.Tensor,
  m: number,
  b: number,
  withNorms = false,
  extra: tf.Tensor | null = null,
): ChunkGrads {
  const { gamma, layers } = splitWeights(c, w);
  const dims = memLayerDims(c);
  const G = K.shape[0]!;
  const dh = c.dimHead;
  const n = m * b;
  let f: MemForward;
  let extraP: tf.Tensor | null = null;
  if (extra && extra.shape[1]! > 0) {
    // one forward pass for the keys and the extra (query) rows; every op is row-wise, so the
    // keys' rows are exactly those of a separate pass
    const e = extra.shape[1]!;
    const fa = memForward(c, w, tf.concat([K, extra], 1));
    const rows = (t: tf.Tensor) => tf.slice(t, [0, 0, 0], [G, n, t.shape[2]!]);
    extraP = tf.slice(fa.P, [0, n, 0], [G, e, dh]);
    f = { xs: [K, ...fa.xs.slice(1).map(rows)], zs: fa.zs.map(rows), Nn: fa.Nn && rows(fa.Nn), s: fa.s && rows(fa.s), P: rows(fa.P) };
  } else {
    f = memForward(c, w, K);
  }
  const diff = tf.sub(f.P, V); //                                   [G,mb,dh]
  const loss = tf.mean(tf.square(diff), -1); // l_t (Eq. 12)         [G,mb]
  const Gu = tf.mul(diff, 2 / dh); // dl_t/dP unweighted: G = (2/dh) theta (P - V) with theta factored out
  const thetaE = tf.expandDims(theta, 2); //                        [G,mb,1]
  const grads: tf.Tensor[] = [];
  const norms: tf.Tensor[] = [];
  let dZ: tf.Tensor; // unweighted dl_t/dZ (row t), theta applied when forming dW
  if (gamma) {
    const GN = tf.mul(Gu, f.Nn!); //                                  [G,mb,dh]
    // dgamma = colsum over the chunk of theta G * Nn                 [G,m,dh]
    grads.push(tf.sum(tf.reshape(tf.mul(GN, thetaE), [G, m, b, dh]), 2));
    if (withNorms) norms.push(tf.sqrt(tf.sum(tf.square(GN), -1)));
    const dN = tf.mul(Gu, tf.expandDims(tf.add(gamma, 1), 1)); // dN = G (gamma + 1)
    // dH = (dN - rowmean(dN) - Nn rowmean(dN Nn)) / s
    dZ = tf.div(
      tf.sub(tf.sub(dN, tf.mean(dN, -1, true)), tf.mul(f.Nn!, tf.mean(tf.mul(dN, f.Nn!), -1, true))),
      f.s!,
    );
  } else {
    dZ = Gu;
  }
  const layerGrads: tf.Tensor[] = new Array(c.depth);
  const layerNorms: tf.Tensor[] = new Array(c.depth);
  for (let l = c.depth - 1; l >= 0; l--) {
    const X = f.xs[l]!; //                                            [G,mb,din]
    const din = dims[l]!;
    const dout = dims[l + 1]!;
    const dZw = tf.mul(dZ, thetaE); //                                [G,mb,dout]
    // dW_l per chunk = X_chunk^T (theta dZ_l)_chunk                  [G*m,din,dout]
    const dW = mm(tf.reshape(X, [G * m, b, din]), tf.reshape(dZw, [G * m, b, dout]), true, false);
    layerGrads[l] = tf.reshape(dW, [G, m, din, dout]);
    if (withNorms) {
      // ||x|| ||dz|| (sqrt of the sum of squares: tf.norm adds abs, pow and casts)
      layerNorms[l] = tf.mul(tf.sqrt(tf.sum(tf.square(X), -1)), tf.sqrt(tf.sum(tf.square(dZ), -1)));
    }
    if (l > 0) {
      // dZ_{l-1} = (dZ_l W_l^T) * gelu'(Z_{l-1})
      dZ = tf.mul(mm(dZ, layers[l]!, false, true), geluGrad(f.zs[l - 1]!));
    }
  }
  grads.push(...layerGrads);
  norms.push(...layerNorms);
  return { grads, loss, tokenGradNorms: withNorms ? norms : null, extraP };
}

/** one chunk's tensor j out of [G, m, ...] -> [G, ...] */
export function chunkSlice(t: tf.Tensor, j: number): tf.Tensor {
  if (t.shape[1] === 1) return tf.squeeze(t, [1]); // one chunk: no slice
  const begin = t.shape.map((_, i) => (i === 1 ? j : 0));
  const size = t.shape.map((s, i) => (i === 1 ? 1 : s));
  return tf.squeeze(tf.slice(t, begin, size), [1]);
}

/**
 * Momentum and forgetting for one chunk (docs/titans.md Eq. 13-14):
 *   S_n = eta_n S_{n-1} - g_n ;  W_n = (1 - alpha_n) W_{n-1} + S_n
 * eta, alpha [G]; S, W, g lists of [G, ...].
 */
export function momentumStep(
  S: FastWeights,
  W: FastWeights,
  g: FastWeights,
  eta: tf.Tensor,
  alpha: tf.Tensor,
): { S: FastWeights; W: FastWeights } {
  // eta and 1 - alpha shaped [G, 1, ...] once per rank (not once per tensor: fewer kernels)
  const memo = new Map<string, tf.Tensor>();
  const bc = (v: tf.Tensor, key: string, rank: number) => {
    const k = `${key}${rank}`;
    if (!memo.has(k)) memo.set(k, tf.reshape(v, [v.shape[0]!, ...new Array<number>(rank - 1).fill(1)]));
    return memo.get(k)!;
  };
  const keep = tf.sub(1, alpha);
  const S2 = S.map((s, i) => tf.sub(tf.mul(bc(eta, 'eta', s.rank), s), g[i]!)); // S_n = eta_n S_{n-1} - g_n
  const W2 = W.map((w, i) => tf.add(tf.mul(bc(keep, 'keep', w.rank), w), S2[i]!)); // W_n = (1-alpha_n) W_{n-1} + S_n
  return { S: S2, W: W2 };
}
