// Reading without what only training needs (issue 17, item 3): the memory update of one
// NeuralMemory.forward call (docs/titans.md Eq. 12-15) in few, large kernels, for inference.
// Same math as NeuralMemory.update + CausalRetrieval (tested against them in
// test/unit/models/fast-update.test.ts); used when no gradient tape is recording, in 'titans' mode,
// batch 1 (reading a document, generation).
//
// Layout: the G = heads memories sit side by side. Token rows, head blocks of columns:
//   X [rows, G*dh]; every fast-weight matrix is block-diagonal, W_l [G*d_l, G*d_{l+1}] with head g's
//   weights in block (g, g); gamma [1, G*dh].
// A product X W_l is then one 2-D matmul for all heads (wasm's batched matmul is ~10x slower than
// its 2-D one; splitting it per head costs many small kernels). The inner gradient X^T dZ is masked
// back to the blocks; momentum and forgetting scale rows (off-diagonal blocks stay exactly 0).
//
// Per chunk n, one forward pass at W_n covers the chunk's keys (rows 0..b-1, the gradient) and the
// queries of retrieval group n (rows b..2b-1, positions [n b - 1, (n+1) b - 1): y_t = M_{W_n}(q_t),
// Eq. 15); the backward pass runs on the key rows. Per-token surprise (loss, ||grad l_t||, theta) and per-chunk ||S_n|| are
// computed once per call from tensors kept per chunk.

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
  xs: tf.Tensor[]; // layer inputs [R, G*d_l]
  zs: tf.Tensor[]; // pre-activations
  phis: tf.Tensor[]; // Phi(Z_l) of hidden layers
  Nn: tf.Tensor | null; // [R, G, dh]
  s: tf.Tensor | null; // [R, G, 1]
  P: tf.Tensor; // [R, G*dh]
}

/** M_W(X) for the heads side by side (mlp.ts memForward, block-diagonal weights) */
function forwardRows(c: NeuralMemoryConfig, gamma1: tf.Tensor | null, layers: tf.Tensor[], X: tf.Tensor): Fwd {
  const G = c.heads;
  const dh = c.dimHead;
  const R = X.shape[0]!;
  const xs = [X];
  const zs: tf.Tensor[] = [];
  const phis: tf.Tensor[] = [];
  let cur = X;
  for (let l = 0; l < c.depth; l++) {
    const Z = tf.matMul(cur, layers[l]!);
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
  const H3 = tf.reshape(H, [R, G, dh]);
  const Hc = tf.sub(H3, tf.mean(H3, -1, true));
  const s = tf.sqrt(tf.add(tf.mean(tf.square(Hc), -1, true), c.lnEps));
  const Nn = tf.div(Hc, s);
  const P = tf.add(X, tf.reshape(tf.mul(Nn, gamma1), [R, G * dh]));
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

  // rows of chunk n: its keys, then the queries of positions [n b - 1, (n+1) b - 1) (zeros before p0)
  const padQ = p0 - (n0 * b - 1); // in [1, b]
  const qIn = nC * b - padQ;
  const Qc = tf.concat(qIn > 0 ? [tf.zeros([padQ, D]), tf.slice(Q, [0, 0], [qIn, D])] : [tf.zeros([padQ, D])], 0);
  const Xs = tf.unstack(tf.concat([tf.reshape(K, [nC, b, D]), tf.reshape(Qc, [nC, b, D])], 1)); // nC x [2b, D]
  const Vs = tf.unstack(tf.reshape(V, [nC, b, D])); //                              nC x [b, D]
  // theta (2/dh) per key row and head: the gradient's weights                     nC x [b, G, 1]
  const thetas = tf.unstack(tf.reshape(tf.mul(theta, 2 / dh), [nC, b, G, 1]));
  // eta_n, 1 - alpha_n as row multipliers of each block-diagonal tensor (gamma: a row)
  const spread = (v: tf.Tensor, d: number) => tf.mul(tf.reshape(v, [nC, G, 1]), tf.ones([1, 1, d])); // [nC, G, d]
  const rowScale = (v: tf.Tensor, d: number) => tf.unstack(tf.reshape(spread(v, d), [nC, G * d, 1]));
  const colScale = (v: tf.Tensor) => tf.unstack(tf.reshape(spread(v, dh), [nC, 1, D]));
  const etaL = dims.slice(0, L).map((d) => rowScale(eta, d));
  const keepL = dims.slice(0, L).map((d) => rowScale(keep, d));
  const etaG = c.normResidual ? colScale(eta) : null;
  const keepG = c.normResidual ? colScale(keep) : null;

  const eye = G > 1 ? tf.reshape(tf.eye(G), [G, 1, G, 1]) : tf.zeros([0]);
  const masks = dims.slice(0, L).map((d, l) => (G > 1 ? blockMask(G, d, dims[l + 1]!) : null));
  const off = c.normResidual ? 1 : 0;
  // fast weights, block-diagonal; index 0 = gamma [1, D] when normResidual
  let W: tf.Tensor[] = W0.map((w, i) => (i < off ? tf.reshape(w, [1, D]) : toBlocks(w, eye)));
  let S: tf.Tensor[] = S0.map((s, i) => (i < off ? tf.reshape(s, [1, D]) : toBlocks(s, eye)));

  const Ps: tf.Tensor[] = [];
  const keepSurprise: { diff: tf.Tensor; Nn: tf.Tensor | null; xs: tf.Tensor[]; dz: tf.Tensor[]; S: tf.Tensor[] }[] = [];
  for (let n = 0; n < nC; n++) {
    const X = Xs[n]!;
    const Wn = W;
    const Sn = S;
    const step = tf.tidy(() => {
      const gamma1 = off ? tf.reshape(tf.add(Wn[0]!, 1), [1, G, dh]) : null;
      const layers = Wn.slice(off);
      const f = forwardRows(c, gamma1, layers, X);
      // the backward pass runs on the key rows only (query rows would add 0 to the gradient)
      const keyRows = (t: tf.Tensor) => tf.slice(t, 0, b);
      const diff = tf.sub(keyRows(f.P), Vs[n]!); //                                     [b, D]
      const Gw = tf.mul(tf.reshape(diff, [b, G, dh]), thetas[n]!); // theta (2/dh) (P - V), per head
      const Nn = f.Nn && keyRows(f.Nn);
      const sK = f.s && keyRows(f.s);
      const xsK = f.xs.map(keyRows);
      const g: tf.Tensor[] = new Array(W.length);
      let dZ: tf.Tensor;
      if (gamma1) {
        g[0] = tf.reshape(tf.sum(tf.mul(Gw, Nn!), 0), [1, D]); // dgamma = colsum(G * Nn)
        const dN = tf.mul(Gw, gamma1); // dN = G (gamma + 1)
        // dH = (dN - rowmean(dN) - Nn rowmean(dN Nn)) / s
        dZ = tf.reshape(tf.div(tf.sub(tf.sub(dN, tf.mean(dN, -1, true)), tf.mul(Nn!, tf.mean(tf.mul(dN, Nn!), -1, true))), sK!), [b, D]);
      } else {
        dZ = tf.reshape(Gw, [b, D]);
      }
      const dzs: tf.Tensor[] = new Array(L);
      for (let l = L - 1; l >= 0; l--) {
        dzs[l] = dZ;
        const dW = mm(xsK[l]!, dZ, true, false); // X_l^T (theta dZ_l)                 [G*din, G*dout]
        g[off + l] = masks[l] ? tf.mul(dW, masks[l]!) : dW;
        if (l > 0) {
          // dZ_{l-1} = (dZ_l W_l^T) * gelu'(Z_{l-1}), gelu'(z) = Phi(z) + z phi(z)
          const z = keyRows(f.zs[l - 1]!);
          const phi = tf.mul(tf.exp(tf.mul(tf.square(z), -0.5)), INV_SQRT_2PI);
          dZ = tf.mul(mm(dZ, layers[l]!, false, true), tf.add(keyRows(f.phis[l - 1]!), tf.mul(z, phi)));
        }
      }
      // S_n = eta_n S_{n-1} - g_n ; W_n = (1 - alpha_n) W_{n-1} + S_n (Eq. 13-14)
      const Snew = Sn.map((s, i) => tf.sub(tf.mul(i < off ? etaG![n]! : etaL[i - off]![n]!, s), g[i]!));
      const Wnew = Wn.map((w, i) => tf.add(tf.mul(i < off ? keepG![n]! : keepL[i - off]![n]!, w), Snew[i]!));
      const out = { W: Wnew, S: Snew, P: f.P, diff, Nn, xs: xsK, dz: dzs };
      return out as unknown as tf.TensorContainer;
    }) as unknown as { W: tf.Tensor[]; S: tf.Tensor[]; P: tf.Tensor; diff: tf.Tensor; Nn: tf.Tensor | null; xs: tf.Tensor[]; dz: tf.Tensor[] };
    Ps.push(step.P);
    if (withSurprise) keepSurprise.push({ diff: step.diff, Nn: step.Nn, xs: step.xs, dz: step.dz, S: step.S });
    else tf.dispose([step.diff, ...(step.Nn ? [step.Nn] : []), ...step.xs, ...step.dz]);
    if (!withSurprise && n > 0) tf.dispose(S);
    if (n > 0) tf.dispose(W);
    W = step.W;
    S = step.S;
  }

  // ---- retrieval (Eq. 15): groups n0 .. n1-1 rode along; group n1 reads W_{n1}
  const ridden = tf.reshape(tf.slice(tf.stack(Ps), [0, b, 0], [nC, b, D]), [nC * b, D]); // positions [n0 b - 1, n1 b - 1)
  const parts: tf.Tensor[] = [];
  if (qIn > 0) parts.push(tf.slice(ridden, [padQ, 0], [qIn, D]));
  const lastQ = tf.slice(Q, [qIn, 0], [T - qIn, D]);
  const gamma1 = off ? tf.reshape(tf.add(W[0]!, 1), [1, G, dh]) : null;
  parts.push(forwardRows(c, gamma1, W.slice(off), lastQ).P);
  const Y = parts.length === 1 ? parts[0]! : tf.concat(parts, 0); //                  [T, D]

  let surprise: SurpriseTensors | null = null;
  if (withSurprise) {
    const kRows = (ts: tf.Tensor[], d: number) => tf.reshape(ts.length === 1 ? ts[0]! : tf.concat(ts, 0), [nStore, G, d]);
    const diff = kRows(keepSurprise.map((k) => k.diff), dh); //                       [nStore, G, dh]
    const headsFirst = (t: tf.Tensor) => tf.transpose(t); //                            [n, G] -> [G, n]
    const rowNorm = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), -1)); //              [nStore, G]
    const gradNorm: tf.Tensor[] = [];
    if (off) {
      const Nn = kRows(keepSurprise.map((k) => tf.reshape(k.Nn!, [b, D])), dh);
      gradNorm.push(headsFirst(rowNorm(tf.mul(tf.mul(diff, 2 / dh), Nn)))); // ||G_t * Nn_t||
    }
    // ||x_t (x) dz_t|| = ||x_t|| ||dz_t||; the kept dz is theta-weighted: divide by theta
    for (let l = 0; l < L; l++) {
      const xn = rowNorm(kRows(keepSurprise.map((k) => k.xs[l]!), dims[l]!));
      const dzn = tf.div(rowNorm(kRows(keepSurprise.map((k) => k.dz[l]!), dims[l + 1]!)), theta);
      gradNorm.push(headsFirst(tf.mul(xn, dzn)));
    }
    // ||S_n|| over all fast-weight tensors, per head
    let acc: tf.Tensor | null = null;
    for (let i = 0; i < W.length; i++) {
      const st = tf.stack(keepSurprise.map((k) => k.S[i]!)); //                         [nC, rows, cols]
      const r = st.shape[1]!;
      const perHead = i < off ? tf.sum(tf.reshape(tf.square(st), [nC, G, dh]), -1) : tf.sum(tf.reshape(tf.sum(tf.square(st), -1), [nC, G, r / G]), -1);
      acc = acc ? tf.add(acc, perHead) : perHead;
    }
    surprise = {
      loss: headsFirst(tf.mean(tf.square(diff), -1)),
      theta: headsFirst(theta),
      gradNorm,
      eta: headsFirst(eta),
      alpha: headsFirst(alpha),
      momentumNorm: headsFirst(tf.sqrt(acc!)),
    };
  }

  const Wout = W.map((w, i) => (i < off ? tf.reshape(w, [G, dh]) : fromBlocks(w, G, eye)));
  const Sout = S.map((s, i) => (i < off ? tf.reshape(s, [G, dh]) : fromBlocks(s, G, eye)));
  return { Y, W: Wout, S: Sout, surprise };
}
