// Float64 plain-TypeScript reference of the neural long-term memory (docs/titans.md section 1).
// Small sizes only: straightforward loops, no tfjs. Used by the tests as ground truth for the tfjs
// module (models/memory/*) and checked itself against finite differences and titans-pytorch.
//
// Conventions: row-major Float64Array matrices, row vectors (P = X W), one head at a time for the
// memory core; the full pipeline (neuralMemory64) mirrors models/memory/neural-memory.ts.

import {
  type NeuralMemoryConfig,
  memLayerDims,
  memParamNames,
  paramShapes,
} from '../../models/memory/config.js';

// ---------------------------------------------------------------- scalar functions

/** erf to ~1e-15: Kummer series erf(x) = 2/sqrt(pi) e^{-x^2} sum 2^n x^{2n+1} / (2n+1)!!
 *  (all terms positive, no cancellation); |x| >= 6 returns +-1 (erfc(6) = 2e-17). */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  const x2 = ax * ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  return x < 0 ? -r : r;
}

/** exact GELU: z * Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2 */
export function gelu64(z: number): number {
  return 0.5 * z * (1 + erf64(z / Math.SQRT2));
}

/** GELU'(z) = Phi(z) + z phi(z) (docs/titans.md explicit gradient) */
export function geluGrad64(z: number): number {
  const Phi = 0.5 * (1 + erf64(z / Math.SQRT2));
  const phi = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  return Phi + z * phi;
}

export const sigmoid64 = (x: number): number => 1 / (1 + Math.exp(-x));

// ---------------------------------------------------------------- matrix helpers

/** C (n x m) = A (n x k) B (k x m) */
export function matmul64(A: Float64Array, B: Float64Array, n: number, k: number, m: number): Float64Array {
  const C = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p]!;
      if (a === 0) continue;
      for (let j = 0; j < m; j++) C[i * m + j]! += a * B[p * m + j]!;
    }
  }
  return C;
}

/** C (k x m) = A^T B with A (n x k), B (n x m) */
export function matmulTN64(A: Float64Array, B: Float64Array, n: number, k: number, m: number): Float64Array {
  const C = new Float64Array(k * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p]!;
      for (let j = 0; j < m; j++) C[p * m + j]! += a * B[i * m + j]!;
    }
  }
  return C;
}

/** C (n x k) = A B^T with A (n x m), B (k x m) */
export function matmulNT64(A: Float64Array, B: Float64Array, n: number, m: number, k: number): Float64Array {
  const C = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += A[i * m + j]! * B[p * m + j]!;
      C[i * k + p] = s;
    }
  }
  return C;
}

// ---------------------------------------------------------------- memory MLP (one head)

/** fast weights of one head: gamma (dh) when normResidual, layers[l] (dims[l] x dims[l+1]) */
export interface MemW64 {
  gamma: Float64Array | null;
  layers: Float64Array[];
}

export function cloneW64(w: MemW64): MemW64 {
  return { gamma: w.gamma ? w.gamma.slice() : null, layers: w.layers.map((l) => l.slice()) };
}

export function zerosLikeW64(w: MemW64): MemW64 {
  return {
    gamma: w.gamma ? new Float64Array(w.gamma.length) : null,
    layers: w.layers.map((l) => new Float64Array(l.length)),
  };
}

/** the tensors of a MemW64 in memParamNames order (memGamma?, mem0, ...) */
export function flatW64(w: MemW64): Float64Array[] {
  return w.gamma ? [w.gamma, ...w.layers] : [...w.layers];
}

interface MemCache64 {
  n: number;
  xs: Float64Array[]; // layer inputs X_0 = K, X_l = gelu(Z_l)
  zs: Float64Array[]; // pre-activations Z_l = X_{l-1} W_l (zs[L-1] = H)
  Nn: Float64Array | null; // (H - mu) / s
  s: Float64Array | null; // per-row std
  P: Float64Array; // memory output M_W(X)
}

/** M_W(X) = X + LN(MLP(X)) * (gamma + 1) (docs/titans.md "Memory model M_W"), X: n x dh */
export function memForward64(c: NeuralMemoryConfig, w: MemW64, X: Float64Array, n: number): MemCache64 {
  const dims = memLayerDims(c);
  const dh = c.dimHead;
  const xs: Float64Array[] = [X];
  const zs: Float64Array[] = [];
  let cur = X;
  for (let l = 0; l < c.depth; l++) {
    const Z = matmul64(cur, w.layers[l]!, n, dims[l]!, dims[l + 1]!); // Z_l = X_{l-1} W_l
    zs.push(Z);
    if (l < c.depth - 1) {
      cur = Z.map(gelu64); // X_l = gelu(Z_l)
      xs.push(cur);
    }
  }
  const H = zs[c.depth - 1]!;
  if (!c.normResidual) return { n, xs, zs, Nn: null, s: null, P: H };
  const Nn = new Float64Array(n * dh);
  const s = new Float64Array(n);
  const P = new Float64Array(n * dh);
  for (let i = 0; i < n; i++) {
    let mu = 0;
    for (let j = 0; j < dh; j++) mu += H[i * dh + j]!;
    mu /= dh; // mu = rowmean(H)
    let v = 0;
    for (let j = 0; j < dh; j++) v += (H[i * dh + j]! - mu) ** 2;
    const si = Math.sqrt(v / dh + c.lnEps); // s = sqrt(rowmean((H-mu)^2) + eps)
    s[i] = si;
    for (let j = 0; j < dh; j++) {
      const nn = (H[i * dh + j]! - mu) / si; // Nn = (H - mu) / s
      Nn[i * dh + j] = nn;
      P[i * dh + j] = X[i * dh + j]! + nn * (w.gamma![j]! + 1); // P = K + Nn (gamma + 1)
    }
  }
  return { n, xs, zs, Nn, s, P };
}

/** per-token loss l_t = mean_d (M_W(k_t) - v_t)^2 (paper Eq. 12, titans-pytorch mean) */
export function memLossPerToken64(P: Float64Array, V: Float64Array, n: number, dh: number): Float64Array {
  const l = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dh; j++) s += (P[i * dh + j]! - V[i * dh + j]!) ** 2;
    l[i] = s / dh;
  }
  return l;
}

/** sum_i theta_i l_i(W): the objective whose gradient is the chunk's surprise */
export function memLossSum64(c: NeuralMemoryConfig, w: MemW64, K: Float64Array, V: Float64Array, theta: Float64Array, n: number): number {
  const f = memForward64(c, w, K, n);
  const l = memLossPerToken64(f.P, V, n, c.dimHead);
  let s = 0;
  for (let i = 0; i < n; i++) s += theta[i]! * l[i]!;
  return s;
}

/**
 * Explicit inner gradient g = grad_W sum_i theta_i l_i(W) (docs/titans.md "Explicit inner gradient").
 * Returns the gradient, the unweighted per-token losses and per-token gradient norms of the
 * token's own unweighted loss (rank-1: ||x (x) dz|| = ||x|| ||dz||), per fast-weight tensor.
 */
export function memGrad64(
  c: NeuralMemoryConfig,
  w: MemW64,
  K: Float64Array,
  V: Float64Array,
  theta: Float64Array,
  n: number,
): { grad: MemW64; loss: Float64Array; tokenGradNorms: Float64Array[] } {
  const dh = c.dimHead;
  const dims = memLayerDims(c);
  const f = memForward64(c, w, K, n);
  const loss = memLossPerToken64(f.P, V, n, dh);
  // G = (2/dh) (P - V): dl_t/dP, unweighted; theta is applied per row below
  const G = new Float64Array(n * dh);
  for (let i = 0; i < n * dh; i++) G[i] = (2 / dh) * (f.P[i]! - V[i]!);
  let dH: Float64Array;
  let dgamma: Float64Array | null = null;
  const gammaNorm = new Float64Array(n);
  if (c.normResidual) {
    dgamma = new Float64Array(dh);
    dH = new Float64Array(n * dh);
    for (let i = 0; i < n; i++) {
      let mdN = 0;
      let mdNN = 0;
      let gn = 0;
      for (let j = 0; j < dh; j++) {
        const nn = f.Nn![i * dh + j]!;
        const g = G[i * dh + j]!;
        dgamma[j]! += theta[i]! * g * nn; // dgamma = colsum(theta G * Nn)
        gn += (g * nn) ** 2;
        const dN = g * (w.gamma![j]! + 1); // dN = G (gamma + 1)
        mdN += dN;
        mdNN += dN * nn;
      }
      gammaNorm[i] = Math.sqrt(gn);
      mdN /= dh;
      mdNN /= dh;
      for (let j = 0; j < dh; j++) {
        const dN = G[i * dh + j]! * (w.gamma![j]! + 1);
        // dH = (dN - rowmean(dN) - Nn rowmean(dN Nn)) / s
        dH[i * dh + j] = (dN - mdN - f.Nn![i * dh + j]! * mdNN) / f.s![i]!;
      }
    }
  } else {
    dH = G;
  }
  const layers: Float64Array[] = new Array(c.depth);
  const norms: Float64Array[] = new Array(c.depth);
  let dZ = dH; // unweighted dl_t/dZ_L, row t
  for (let l = c.depth - 1; l >= 0; l--) {
    const X = f.xs[l]!;
    const din = dims[l]!;
    const dout = dims[l + 1]!;
    const dZw = new Float64Array(n * dout);
    const nl = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let a = 0;
      let b = 0;
      for (let j = 0; j < din; j++) a += X[i * din + j]! ** 2;
      for (let j = 0; j < dout; j++) {
        b += dZ[i * dout + j]! ** 2;
        dZw[i * dout + j] = theta[i]! * dZ[i * dout + j]!;
      }
      nl[i] = Math.sqrt(a) * Math.sqrt(b);
    }
    norms[l] = nl;
    layers[l] = matmulTN64(X, dZw, n, din, dout); // dW_l = X_{l-1}^T (theta dZ_l)
    if (l > 0) {
      const back = matmulNT64(dZ, w.layers[l]!, n, dout, din); // dZ_l W_l^T
      const Z = f.zs[l - 1]!;
      for (let i = 0; i < n * din; i++) back[i]! *= geluGrad64(Z[i]!); // (.) * gelu'(Z_{l-1})
      dZ = back;
    }
  }
  const tokenGradNorms = c.normResidual ? [gammaNorm, ...norms] : norms;
  return { grad: { gamma: dgamma, layers }, loss, tokenGradNorms };
}

// ---------------------------------------------------------------- chunked update (one head)

export interface MemSeqResult64 {
  /** y_t = M_{W_{floor((t+1)/b)}}(q_t), T x dh */
  retrieved: Float64Array;
  /** W_0 .. W_N after every complete chunk (titans-pytorch `updates`) */
  updates: MemW64[];
  /** momentum S_N */
  momentum: MemW64;
  /** weights used for gradients after the sequence (titans-pytorch state.weights) */
  gradWeights: MemW64;
  /** unweighted per-token loss of the stored tokens (N b) */
  loss: Float64Array;
  /** per stored token, per fast-weight tensor: ||grad_W l_t|| */
  tokenGradNorms: Float64Array[];
  /** per chunk ||S_n|| (Frobenius over all fast-weight tensors) */
  momentumNorm: Float64Array;
}

/**
 * Chunked update (docs/titans.md Eq. 13-14) and causal retrieval (Eq. 15), for a sequence read from
 * position 0. K, V, Q: T x dh; theta: T; eta, alpha: one per complete chunk.
 *   g_n = grad_W sum_{i in chunk n} theta_i l_i(W) at W = Wg
 *   S_n = eta_n S_{n-1} - g_n ;  W_n = (1 - alpha_n) W_{n-1} + S_n
 * Wg = W_{n-1} when refreshInterval = chunkSize; in general Wg is refreshed to the latest W
 * whenever (n+1) b is a multiple of refreshInterval (never when null: all gradients at W0).
 */
export function memorySequence64(
  c: NeuralMemoryConfig,
  W0: MemW64,
  K: Float64Array,
  V: Float64Array,
  Q: Float64Array,
  theta: Float64Array,
  eta: Float64Array,
  alpha: Float64Array,
  T: number,
): MemSeqResult64 {
  const b = c.chunkSize;
  const dh = c.dimHead;
  const N = Math.floor(T / b);
  let W = cloneW64(W0);
  let Wg = cloneW64(W0);
  const S = zerosLikeW64(W0);
  const updates: MemW64[] = [cloneW64(W0)];
  const loss = new Float64Array(N * b);
  const nT = flatW64(W0).length;
  const tokenGradNorms = Array.from({ length: nT }, () => new Float64Array(N * b));
  const momentumNorm = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const sl = (A: Float64Array) => A.slice(n * b * dh, (n + 1) * b * dh);
    const g = memGrad64(c, Wg, sl(K), sl(V), theta.slice(n * b, (n + 1) * b), b);
    loss.set(g.loss, n * b);
    g.tokenGradNorms.forEach((a, i) => tokenGradNorms[i]!.set(a, n * b));
    const fS = flatW64(S);
    const fW = flatW64(W);
    const fg = flatW64(g.grad);
    let sn = 0;
    for (let i = 0; i < fS.length; i++) {
      const s = fS[i]!;
      const wt = fW[i]!;
      const gt = fg[i]!;
      for (let j = 0; j < s.length; j++) {
        s[j] = eta[n]! * s[j]! - gt[j]!; // S_n = eta_n S_{n-1} - g_n
        wt[j] = (1 - alpha[n]!) * wt[j]! + s[j]!; // W_n = (1 - alpha_n) W_{n-1} + S_n
        sn += s[j]! ** 2;
      }
    }
    momentumNorm[n] = Math.sqrt(sn);
    updates.push(cloneW64(W));
    if (c.refreshInterval !== null && ((n + 1) * b) % c.refreshInterval === 0) Wg = cloneW64(W);
  }
  // retrieval: token t reads W_{floor((t+1)/b)}
  const retrieved = new Float64Array(T * dh);
  for (let t = 0; t < T; t++) {
    const Wt = updates[Math.floor((t + 1) / b)]!;
    const f = memForward64(c, Wt, Q.slice(t * dh, (t + 1) * dh), 1);
    retrieved.set(f.P, t * dh);
  }
  void W;
  return { retrieved, updates, momentum: S, gradWeights: Wg, loss, tokenGradNorms, momentumNorm };
}

// ---------------------------------------------------------------- full module (projections, gates, heads)

export type Params64 = Record<string, Float64Array>;

export interface NeuralMemory64Result {
  /** B x (T d) */
  retrieved: Float64Array[];
  /** per batch item, per head */
  heads: MemSeqResult64[][];
  /** theta per stored token, [b][h] */
  theta: Float64Array[][];
  eta: Float64Array[][];
  alpha: Float64Array[][];
}

function rmsNormRows(X: Float64Array, n: number, d: number, w: Float64Array | null, eps: number): Float64Array {
  const Y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let ms = 0;
    for (let j = 0; j < d; j++) ms += X[i * d + j]! ** 2;
    const r = 1 / Math.sqrt(ms / d + eps);
    for (let j = 0; j < d; j++) Y[i * d + j] = X[i * d + j]! * r * (w ? w[j]! : 1);
  }
  return Y;
}

const silu64 = (x: number) => x * sigmoid64(x);

/** extract one head's columns (T x dh) from T x (h dh) */
function headCols(X: Float64Array, T: number, h: number, dh: number, H: number): Float64Array {
  const Y = new Float64Array(T * dh);
  for (let t = 0; t < T; t++) for (let j = 0; j < dh; j++) Y[t * dh + j] = X[t * H * dh + h * dh + j]!;
  return Y;
}

/** one head's W0 from the per-head parameter tensors (memGamma [h, dh], mem_l [h, din, dout]) */
export function headW0(c: NeuralMemoryConfig, p: Params64, h: number): MemW64 {
  const dims = memLayerDims(c);
  const layers: Float64Array[] = [];
  for (let l = 0; l < c.depth; l++) {
    const sz = dims[l]! * dims[l + 1]!;
    layers.push(p[`mem${l}`]!.slice(h * sz, (h + 1) * sz));
  }
  return { gamma: c.normResidual ? p.memGamma!.slice(h * c.dimHead, (h + 1) * c.dimHead) : null, layers };
}

/**
 * The whole memory module in float64 for inputs read from position 0 in one call
 * (same equations as models/memory/neural-memory.ts). x: B arrays of T x d.
 */
export function neuralMemory64(c: NeuralMemoryConfig, p: Params64, x: Float64Array[], T: number): NeuralMemory64Result {
  const { dim: d, heads: H, dimHead: dh, chunkSize: b } = c;
  const inner = H * dh;
  const shapes = paramShapes(c);
  for (const [k, s] of Object.entries(shapes)) {
    const n = s.reduce((a, v) => a * v, 1);
    if (!p[k] || p[k]!.length !== n) throw new Error(`param ${k}: expected ${n} values`);
  }
  const N = Math.floor(T / b);
  const out: NeuralMemory64Result = { retrieved: [], heads: [], theta: [], eta: [], alpha: [] };
  for (const xb of x) {
    // inputs to store and retrieve each get their own RMSNorm (docs/titans.md section 1)
    const xs = c.preNorm ? rmsNormRows(xb, T, d, p.storeNorm!, c.rmsEps) : xb;
    const xr = c.preNorm ? rmsNormRows(xb, T, d, p.retrieveNorm!, c.rmsEps) : xb;
    const proj = (X: Float64Array, w: string, conv: string, isQK: boolean): Float64Array => {
      let Y = matmul64(X, p[w]!, T, d, inner); // x W
      if (c.mode === 'titans') {
        // causal depthwise conv, kernel Kc: y_t = sum_j w_j x_{t-(Kc-1)+j}, zeros before 0
        const Kc = c.convKernel;
        const cw = p[conv]!;
        const Yc = new Float64Array(T * inner);
        for (let t = 0; t < T; t++)
          for (let j = 0; j < Kc; j++) {
            const src = t - (Kc - 1) + j;
            if (src < 0) continue;
            for (let e = 0; e < inner; e++) Yc[t * inner + e]! += cw[j * inner + e]! * Y[src * inner + e]!;
          }
        Y = Yc.map(silu64); // SiLU
        if (isQK) {
          // l2-normalise per head
          for (let t = 0; t < T; t++)
            for (let h = 0; h < H; h++) {
              let s = 0;
              for (let j = 0; j < dh; j++) s += Y[t * inner + h * dh + j]! ** 2;
              const r = 1 / Math.max(Math.sqrt(s), c.l2Eps);
              for (let j = 0; j < dh; j++) Y[t * inner + h * dh + j]! *= r;
            }
        }
      } else if (c.activation === 'silu') {
        Y = Y.map(silu64);
      }
      return Y;
    };
    const Kall = proj(xs, 'wk', 'convK', true);
    const Vall = proj(xs, 'wv', 'convV', false);
    const Qall = proj(xr, 'wq', 'convQ', true);
    const thetaAll = matmul64(xs, p.thetaW!, T, d, H); // T x H
    // chunk means of the (normed) input for eta and alpha
    const means = new Float64Array(N * d);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < b; i++) for (let j = 0; j < d; j++) means[n * d + j]! += xs[(n * b + i) * d + j]! / b;
    const etaAll = matmul64(means, p.etaW!, N, d, H);
    const alphaAll = matmul64(means, p.alphaW!, N, d, H);
    const gateAll = H > 1 ? matmul64(xr, p.gateW!, T, d, H) : null;
    const merged = new Float64Array(T * inner);
    const headsRes: MemSeqResult64[] = [];
    const thetaB: Float64Array[] = [];
    const etaB: Float64Array[] = [];
    const alphaB: Float64Array[] = [];
    for (let h = 0; h < H; h++) {
      const qkNorm = (X: Float64Array, name: string) =>
        c.qkRmsNorm ? rmsNormRows(X, T, dh, p[name]!.slice(h * dh, (h + 1) * dh).map((g) => g + 1), c.rmsEps) : X;
      const K = qkNorm(headCols(Kall, T, h, dh, H), 'kNorm');
      const Q = qkNorm(headCols(Qall, T, h, dh, H), 'qNorm');
      const V = headCols(Vall, T, h, dh, H);
      // theta_t = sigmoid(Linear(x_t)) max_lr ; eta_n, alpha_n = sigmoid(Linear(chunk mean))
      const theta = new Float64Array(T).map((_, t) => sigmoid64(thetaAll[t * H + h]! + p.thetaB![h]!) * c.maxLr);
      const eta = new Float64Array(N).map((_, n) => sigmoid64(etaAll[n * H + h]! + p.etaB![h]!));
      const alpha = new Float64Array(N).map((_, n) => sigmoid64(alphaAll[n * H + h]! + p.alphaB![h]!));
      const r = memorySequence64(c, headW0(c, p, h), K, V, Q, theta, eta, alpha, T);
      headsRes.push(r);
      thetaB.push(theta.slice(0, N * b));
      etaB.push(eta);
      alphaB.push(alpha);
      let y = r.retrieved;
      if (c.postNorm) y = rmsNormRows(y, T, dh, p.postNorm!.slice(h * dh, (h + 1) * dh).map((g) => g + 1), c.rmsEps);
      for (let t = 0; t < T; t++) {
        const gt = gateAll ? sigmoid64(gateAll[t * H + h]!) : 1; // per-head output gate
        for (let j = 0; j < dh; j++) merged[t * inner + h * dh + j] = y[t * dh + j]! * gt;
      }
    }
    out.retrieved.push(H > 1 ? matmul64(merged, p.outW!, T, inner, d) : merged);
    out.heads.push(headsRes);
    out.theta.push(thetaB);
    out.eta.push(etaB);
    out.alpha.push(alphaB);
  }
  return out;
}

export { memParamNames };
