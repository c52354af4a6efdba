// Reading without what only training needs (issue 17, item 3): the memory update of one
// NeuralMemory.forward call (docs/titans.md Eq. 12-15) in few, large kernels, for inference.
// Same math as NeuralMemory.update + CausalRetrieval (tested against them in
// test/unit/models/fast-update.test.ts); NeuralMemory.forward takes it with `fast: true` when no
// gradient tape is recording, in 'titans' mode, batch 1 (reading a document, generation).
//
// Layout: the G = heads memories sit side by side, tokens as columns (the transposed layout):
//   X^T [G*dh, tokens]; every fast-weight matrix is stored transposed and block-diagonal,
//   W_l^T [G*d_{l+1}, G*d_l] with head g's weights in block (g, g); gamma [G*dh, 1].
// A product W_l^T X^T is then one 2-D matmul for all heads (wasm's batched matmul is ~10x slower
// than its 2-D one; splitting it per head costs many small kernels), and the fast weights, new every
// chunk, are its left operand: wasm's matmul (XNNPACK) packs the right operand on every call unless
// it has seen that tensor before (~6 ns an element), so the small activations go on the right. The
// inner gradient is masked back to the blocks; momentum and forgetting scale rows (off-diagonal
// blocks stay exactly 0). The block-diagonal products do G times the useful FLOPs.
//
// Per chunk n, one forward pass at W_n covers the chunk's keys (columns 0..b-1, the gradient) and
// the queries of retrieval group n (columns b..2b-1, positions [n b - 1, (n+1) b - 1):
// y_t = M_{W_n}(q_t), Eq. 15); the backward pass runs on the key columns. Per-token surprise (loss,
// ||grad l_t||, theta) and per-chunk ||S_n|| are computed once per call from tensors kept per chunk.

import * as tf from '@tensorflow/tfjs';
import { type NeuralMemoryConfig, memLayerDims } from './config.js';
import type { FastWeights } from './mlp.js';
import { l2Normalize, linear, mm, silu } from './ops.js';
import { causalDepthwiseConv } from './projections.js';
import type { SurpriseTensors } from './surprise.js';

type Params = Record<string, tf.Tensor>;

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** whether `fastCall` can run this call: inference only ('titans' mode, batch 1, no tape) */
export function fastUpdateApplies(c: NeuralMemoryConfig, batch: number, sameGradWeights: boolean): boolean {
  if (c.mode !== 'titans' || c.qkRmsNorm || batch !== 1 || !sameGradWeights) return false;
  return !(tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/** q/k/v projection with the heads side by side: x [1, T, d] (normed) -> [T, h*dh] ('titans' mode) */
function projectRows(c: NeuralMemoryConfig, p: Params, x: tf.Tensor, kind: 'q' | 'k' | 'v'): tf.Tensor {
  const [, T] = x.shape as [number, number];
  const y = silu(causalDepthwiseConv(linear(x, p[`w${kind}`]!), p[`conv${kind.toUpperCase()}`]!)); // [1,T,h*dh]
  if (kind === 'v') return tf.reshape(y, [T, c.heads * c.dimHead]);
  const yh = l2Normalize(tf.reshape(y, [T, c.heads, c.dimHead]), c.l2Eps); // per head
  return tf.reshape(yh, [T, c.heads * c.dimHead]);
}

/** [G, din, dout] -> block-diagonal [G*din, G*dout] */
function toBlocks(w: tf.Tensor, eye: tf.Tensor): tf.Tensor {
  const [G, din, dout] = w.shape as [number, number, number];
  if (G === 1) return tf.reshape(w, [din, dout]);
  return tf.reshape(tf.mul(tf.expandDims(w, 2), eye), [G * din, G * dout]); // (tile is slow on wasm)
}

/** block-diagonal [G*din, G*dout] -> [G, din, dout] */
function fromBlocks(w: tf.Tensor, G: number, eye: tf.Tensor): tf.Tensor {
  const [r, cl] = w.shape as [number, number];
  if (G === 1) return tf.reshape(w, [1, r, cl]);
  return tf.sum(tf.mul(tf.reshape(w, [G, r / G, G, cl / G]), eye), 2);
}

/** 0/1 mask of the diagonal blocks [G*din, G*dout] */
function blockMask(G: number, din: number, dout: number): tf.Tensor {
  const m = new Float32Array(G * din * G * dout);
  const W = G * dout;
  for (let g = 0; g < G; g++) for (let i = 0; i < din; i++) m.fill(1, (g * din + i) * W + g * dout, (g * din + i) * W + (g + 1) * dout);
  return tf.tensor2d(m, [G * din, G * dout]);
}

interface Fwd {
  xs: tf.Tensor[]; // layer inputs, transposed [G*d_l, R]
  zs: tf.Tensor[]; // pre-activations, transposed [G*d_{l+1}, R]
  phis: tf.Tensor[]; // Phi(Z_l) of hidden layers
  Nn: tf.Tensor | null; // [G, dh, R]
  s: tf.Tensor | null; // [G, 1, R]
  P: tf.Tensor; // M_W(x) transposed [G*dh, R]
}

/** M_W(X) (mlp.ts memForward) in the transposed layout: Xt [G*dh, R] (a token per column), Wt_l the
 *  block-diagonal W_l^T [G*d_{l+1}, G*d_l], gamma1 = gamma + 1 [G, dh, 1] */
function forwardCols(c: NeuralMemoryConfig, gamma1: tf.Tensor | null, layersT: tf.Tensor[], Xt: tf.Tensor): Fwd {
  const G = c.heads;
  const dh = c.dimHead;
  const R = Xt.shape[1]!;
  const xs = [Xt];
  const zs: tf.Tensor[] = [];
  const phis: tf.Tensor[] = [];
  let cur = Xt;
  for (let l = 0; l < c.depth; l++) {
    // Z_l^T = W_l^T X_l^T: the weights (new every chunk) are the left operand, which wasm's matmul
    // does not pack; the right one (packed on every call) is the small activation
    const Z = tf.matMul(layersT[l]!, cur);
    zs.push(Z);
    if (l < c.depth - 1) {
      const Phi = tf.mul(tf.add(tf.erf(tf.mul(Z, SQRT1_2)), 1), 0.5); // Phi(z) = (1 + erf(z/sqrt 2)) / 2
      phis.push(Phi);
      cur = tf.mul(Z, Phi); // exact GELU
      xs.push(cur);
    }
  }
  const H = zs[c.depth - 1]!;
  if (!gamma1) return { xs, zs, phis, Nn: null, s: null, P: H };
  const H3 = tf.reshape(H, [G, dh, R]);
  const Hc = tf.sub(H3, tf.mean(H3, 1, true));
  const s = tf.sqrt(tf.add(tf.mean(tf.square(Hc), 1, true), c.lnEps));
  const Nn = tf.div(Hc, s);
  const P = tf.add(Xt, tf.reshape(tf.mul(Nn, gamma1), [G * dh, R]));
  return { xs, zs, phis, Nn, s, P };
}

export interface FastCallResult {
  /** y_t for the call's tokens, heads side by side [T, h*dh] */
  Y: tf.Tensor;
  W: FastWeights;
  S: FastWeights;
  surprise: SurpriseTensors | null;
}

/**
 * The update and retrieval of one call (batch 1) that stores chunks n0 .. n1-1 (nC >= 1).
 * xs, xr: store- and retrieve-normed inputs [1, p1 - cs, d] (row 0 at absolute position cs).
 * W0, S0: the state's weights and momentum [G, ...] (not disposed).
 *
 * Inside, tokens are columns (the transposed layout): wasm's matmul packs its right operand on
 * every call (~6 ns an element, the packed copy is cached only for a tensor it has seen), so the
 * fast weights, new every chunk, go on the left and the small activations on the right.
 */
export function fastCall(
  c: NeuralMemoryConfig,
  p: Params,
  xs: tf.Tensor,
  xr: tf.Tensor,
  span: { p0: number; p1: number; cs: number; n0: number; n1: number; s0: number; nStore: number },
  W0: FastWeights,
  S0: FastWeights,
  withSurprise: boolean,
): FastCallResult {
  const G = c.heads;
  const dh = c.dimHead;
  const D = G * dh;
  const b = c.chunkSize;
  const { p0, p1, cs, n0, n1, s0, nStore } = span;
  const nC = n1 - n0;
  const T = p1 - p0;
  const dims = memLayerDims(c);
  const L = c.depth;

  // ---- per call: projections, gates, per-chunk inputs
  const rowsOf = (t: tf.Tensor, from: number, n: number) => tf.slice(t, [from - cs, 0], [n, t.shape[1]!]);
  const K = rowsOf(projectRows(c, p, xs, 'k'), s0, nStore); //                     [nStore, D]
  const V = rowsOf(projectRows(c, p, xs, 'v'), s0, nStore);
  const Q = rowsOf(projectRows(c, p, xr, 'q'), p0, T); //                           [T, D]
  const xStore = tf.slice(xs, [0, s0 - cs, 0], [1, nStore, c.dim]);
  const theta = tf.reshape(tf.mul(tf.sigmoid(linear(xStore, p.thetaW!, p.thetaB!)), c.maxLr), [nStore, G]);
  const mean = tf.mean(tf.reshape(xStore, [nC, b, c.dim]), 1); //                     chunk means [nC, d]
  const eta = tf.sigmoid(linear(mean, p.etaW!, p.etaB!)); //                            [nC, G]
  const alpha = tf.sigmoid(linear(mean, p.alphaW!, p.alphaB!));
  const keep = tf.sub(1, alpha);
  const cols = (t: tf.Tensor) => tf.transpose(t, [0, 2, 1]); //                      [nC, r, D] -> [nC, D, r]

  // columns of chunk n: its keys, then the queries of positions [n b - 1, (n+1) b - 1) (zeros before p0)
  const padQ = p0 - (n0 * b - 1); // in [1, b]
  const qIn = nC * b - padQ;
  const Qc = tf.concat(qIn > 0 ? [tf.zeros([padQ, D]), tf.slice(Q, [0, 0], [qIn, D])] : [tf.zeros([padQ, D])], 0);
  const Kc = tf.reshape(K, [nC, b, D]);
  const Xts = tf.unstack(cols(tf.concat([Kc, tf.reshape(Qc, [nC, b, D])], 1))); //   nC x [D, 2b]
  const Ks = tf.unstack(Kc); //                                                     nC x [b, D]
  const Vts = tf.unstack(cols(tf.reshape(V, [nC, b, D]))); //                       nC x [D, b]
  // theta (2/dh) per key and head: the gradient's weights                          nC x [G, 1, b]
  const thetas = tf.unstack(tf.reshape(cols(tf.reshape(tf.mul(theta, 2 / dh), [nC, b, G])), [nC, G, 1, b]));
  // eta_n, 1 - alpha_n as row multipliers of each block-diagonal W_l^T [G*d_{l+1}, G*d_l] and of
  // gamma [G*dh, 1] (off-diagonal blocks stay 0)
  const rowScale = (v: tf.Tensor, d: number) => tf.unstack(tf.reshape(tf.mul(tf.reshape(v, [nC, G, 1]), tf.ones([1, 1, d])), [nC, G * d, 1]));
  const outDims = [...(c.normResidual ? [dh] : []), ...dims.slice(1)]; // rows of each stored tensor / G
  const etaR = outDims.map((d) => rowScale(eta, d));
  const keepR = outDims.map((d) => rowScale(keep, d));

  const eye = G > 1 ? tf.reshape(tf.eye(G), [G, 1, G, 1]) : tf.zeros([0]);
  const masks = dims.slice(0, L).map((d, l) => (G > 1 ? blockMask(G, dims[l + 1]!, d) : null));
  const off = c.normResidual ? 1 : 0;
  const tr = (w: tf.Tensor) => tf.transpose(w, [0, 2, 1]);
  // fast weights: gamma [D, 1] (normResidual), then W_l^T block-diagonal
  let W: tf.Tensor[] = W0.map((w, i) => (i < off ? tf.reshape(w, [D, 1]) : toBlocks(tr(w), eye)));
  let S: tf.Tensor[] = S0.map((s, i) => (i < off ? tf.reshape(s, [D, 1]) : toBlocks(tr(s), eye)));

  const Ps: tf.Tensor[] = [];
  type Kept = { diff: tf.Tensor; Nn: tf.Tensor | null; xs: tf.Tensor[]; dz: tf.Tensor[]; S: tf.Tensor[] };
  const kept: Kept[] = [];
  for (let n = 0; n < nC; n++) {
    const Xt = Xts[n]!;
    const Wn = W;
    const Sn = S;
    const step = tf.tidy(() => {
      const gamma1 = off ? tf.reshape(tf.add(Wn[0]!, 1), [G, dh, 1]) : null;
      const layersT = Wn.slice(off);
      const f = forwardCols(c, gamma1, layersT, Xt);
      // the backward pass runs on the key columns only (query columns would add 0 to the gradient)
      const keyCols = (t: tf.Tensor) => tf.slice(t, t.shape.map(() => 0), t.shape.map((v, i) => (i === t.rank - 1 ? b : v)));
      const diff = tf.sub(keyCols(f.P), Vts[n]!); //                                   [D, b]
      const Gw = tf.mul(tf.reshape(diff, [G, dh, b]), thetas[n]!); // theta (2/dh) (P - V), per head
      const Nn = f.Nn && keyCols(f.Nn); //                                              [G, dh, b]
      const sK = f.s && keyCols(f.s);
      const g: tf.Tensor[] = new Array(Wn.length);
      let dZ: tf.Tensor; // theta-weighted dl/dZ_l^T                                   [G*d_{l+1}, b]
      if (gamma1) {
        g[0] = tf.reshape(tf.sum(tf.mul(Gw, Nn!), 2), [D, 1]); // dgamma = colsum(G * Nn)
        const dN = tf.mul(Gw, gamma1); // dN = G (gamma + 1)
        // dH = (dN - rowmean(dN) - Nn rowmean(dN Nn)) / s
        dZ = tf.reshape(tf.div(tf.sub(tf.sub(dN, tf.mean(dN, 1, true)), tf.mul(Nn!, tf.mean(tf.mul(dN, Nn!), 1, true))), sK!), [D, b]);
      } else {
        dZ = tf.reshape(Gw, [D, b]);
      }
      const dzs: tf.Tensor[] = new Array(L);
      const xsK: tf.Tensor[] = new Array(L); // layer inputs of the keys, transposed  [G*d_l, b]
      for (let l = L - 1; l >= 0; l--) {
        dzs[l] = dZ;
        if (l > 0 || withSurprise) xsK[l] = keyCols(f.xs[l]!);
        // dW_l^T = (theta dZ_l)^T X_l, masked to the diagonal blocks           [G*d_{l+1}, G*d_l]
        const dWt = tf.matMul(dZ, l === 0 ? Ks[n]! : tf.transpose(xsK[l]!));
        g[off + l] = masks[l] ? tf.mul(dWt, masks[l]!) : dWt;
        if (l > 0) {
          // dZ_{l-1} = (dZ_l W_l^T) * gelu'(Z_{l-1}), transposed: W_l dZ_l^T, gelu'(z) = Phi(z) + z phi(z)
          const z = keyCols(f.zs[l - 1]!);
          const phi = tf.mul(tf.exp(tf.mul(tf.square(z), -0.5)), INV_SQRT_2PI);
          dZ = tf.mul(tf.matMul(tf.transpose(layersT[l]!), dZ), tf.add(keyCols(f.phis[l - 1]!), tf.mul(z, phi)));
        }
      }
      // S_n = eta_n S_{n-1} - g_n ; W_n = (1 - alpha_n) W_{n-1} + S_n (Eq. 13-14)
      const Snew = Sn.map((s, i) => tf.sub(tf.mul(etaR[i]![n]!, s), g[i]!));
      const Wnew = Wn.map((w, i) => tf.add(tf.mul(keepR[i]![n]!, w), Snew[i]!));
      const queries = tf.slice(f.P, [0, b], [D, b]); // y_t = M_{W_n}(q_t) of group n (Eq. 15)  [D, b]
      const out = { W: Wnew, S: Snew, P: queries, diff, Nn, xs: withSurprise ? xsK : [], dz: withSurprise ? dzs : [] };
      return out as unknown as tf.TensorContainer;
    }) as unknown as { W: tf.Tensor[]; S: tf.Tensor[]; P: tf.Tensor } & Kept;
    Ps.push(step.P);
    if (withSurprise) kept.push(step);
    else tf.dispose([step.diff, ...(step.Nn ? [step.Nn] : [])]);
    if (!withSurprise && n > 0) tf.dispose(Sn);
    if (n > 0) tf.dispose(Wn);
    W = step.W;
    S = step.S;
  }

  // ---- retrieval (Eq. 15): groups n0 .. n1-1 rode along; group n1 reads W_{n1}
  const ridden = tf.reshape(cols(tf.stack(Ps)), [nC * b, D]); //                    positions [n0 b - 1, n1 b - 1)
  const parts: tf.Tensor[] = [];
  if (qIn > 0) parts.push(tf.slice(ridden, [padQ, 0], [qIn, D]));
  const lastQt = tf.transpose(tf.slice(Q, [qIn, 0], [T - qIn, D]));
  const gamma1 = off ? tf.reshape(tf.add(W[0]!, 1), [G, dh, 1]) : null;
  parts.push(tf.transpose(forwardCols(c, gamma1, W.slice(off), lastQt).P));
  const Y = parts.length === 1 ? parts[0]! : tf.concat(parts, 0); //                  [T, D]

  let surprise: SurpriseTensors | null = null;
  if (withSurprise) {
    // per-token tensors of the chunks side by side: [G, d, nStore] (heads first already)
    const byToken = (ts: tf.Tensor[], d: number) => tf.reshape(ts.length === 1 ? ts[0]! : tf.concat(ts, ts[0]!.rank - 1), [G, d, nStore]);
    const colNorm = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), 1)); //              [G, nStore]
    const diff = byToken(kept.map((k) => k.diff), dh);
    const thetaT = tf.transpose(theta); //                                               [G, nStore]
    const gradNorm: tf.Tensor[] = [];
    if (off) gradNorm.push(colNorm(tf.mul(tf.mul(diff, 2 / dh), byToken(kept.map((k) => k.Nn!), dh)))); // ||G_t * Nn_t||
    // ||x_t (x) dz_t|| = ||x_t|| ||dz_t||; the kept dz is theta-weighted: divide by theta
    for (let l = 0; l < L; l++) {
      const xn = colNorm(byToken(kept.map((k) => k.xs[l]!), dims[l]!));
      const dzn = tf.div(colNorm(byToken(kept.map((k) => k.dz[l]!), dims[l + 1]!)), thetaT);
      gradNorm.push(tf.mul(xn, dzn));
    }
    // ||S_n|| over all fast-weight tensors, per head (off-diagonal blocks are 0)
    let acc: tf.Tensor | null = null;
    for (let i = 0; i < W.length; i++) {
      const st = tf.stack(kept.map((k) => k.S[i]!)); //                               [nC, rows, cols]
      const rows = st.shape[1]!;
      const perHead = tf.sum(tf.reshape(tf.sum(tf.square(st), -1), [nC, G, rows / G]), -1); // [nC, G]
      acc = acc ? tf.add(acc, perHead) : perHead;
    }
    surprise = {
      loss: tf.mean(tf.square(diff), 1),
      theta: thetaT,
      gradNorm,
      eta: tf.transpose(eta),
      alpha: tf.transpose(alpha),
      momentumNorm: tf.transpose(tf.sqrt(acc!)),
    };
  }

  const Wout = W.map((w, i) => (i < off ? tf.reshape(w, [G, dh]) : tr(fromBlocks(w, G, eye))));
  const Sout = S.map((s, i) => (i < off ? tf.reshape(s, [G, dh]) : tr(fromBlocks(s, G, eye))));
  return { Y, W: Wout, S: Sout, surprise };
}
