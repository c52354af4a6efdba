// Neural long-term memory module (docs/titans.md section 1; paper arXiv 2501.00663 section 3.1):
// chunked test-time update with momentum and forgetting, causal retrieval, state carried across
// calls with chunk alignment by absolute position (a document read in several calls gives exactly
// the result of one call).
//
// `NeuralMemory.forward` reads one call: `callSpan` places it in the document, `NeuralMemory.update`
// stores the chunks it completes (docs/titans.md Eq. 13-14: inner gradient, momentum, forgetting),
// `CausalRetrieval` reads every token's y_t = M*(q_t) (Eq. 15, causal rule) and `combineHeads`
// gates and merges the heads. The retrieval of a group is interleaved with the update (it is read
// as soon as its weights exist, so a long call keeps only the current weights alive).
//
// Shapes: B batch, T tokens in this call, d model width, h heads, dh head width, G = B*h
// memories (index g = b*h + head), b chunk length.

import * as tf from '@tensorflow/tfjs';
import { type NeuralMemoryConfig, memParamNames, paramShapes, validateConfig } from './config.js';
import { fastCall, fastUpdateApplies } from './fast-update.js';
import { chunkGates, thetaGate } from './gates.js';
import { type FastWeights, chunkSlice, memChunkGrads, memForward, momentumStep } from './mlp.js';
import { linear, rmsNorm } from './ops.js';
import { mergeHeads, multiheadRmsNorm, project } from './projections.js';
import { type SurpriseReport, type SurpriseTensors, momentumNorm, readSurprise } from './surprise.js';

export type Params = Record<string, tf.Tensor>;

/** Memory state between calls. Holds tensors (so that a caller may keep autodiff across calls);
 *  serialize with serializeState, free with disposeState. */
export interface MemoryState {
  /** absolute position of the next token */
  pos: number;
  batch: number;
  /** current fast weights W [G, ...] (titans-pytorch last_update) */
  weights: FastWeights;
  /** momentum S [G, ...] (titans-pytorch last_momentum) */
  momentum: FastWeights;
  /** weights at which gradients are taken (titans-pytorch state.weights); in 'titans' mode = weights */
  gradWeights: FastWeights;
  /** raw inputs [B, n, d] at positions [pos - n, pos): the tokens of the unfinished chunk and the
   *  conv context before them */
  carry: tf.Tensor | null;
}

export interface SerializedMemoryState {
  version: 1;
  pos: number;
  batch: number;
  shapes: number[][];
  weights: Float32Array[];
  momentum: Float32Array[];
  gradWeights: Float32Array[];
  carry: { shape: number[]; data: Float32Array } | null;
}

export interface ForwardOptions {
  /** parameters to use instead of the module's variables (e.g. for tf.grads) */
  params?: Params;
  /** also return the surprise signals of the stored chunks */
  surprise?: boolean;
  /** at most this many chunks sharing gradient weights are batched in one matmul (default 32) */
  maxChunksPerBatch?: number;
  /** true: when no gradient tape records and the call allows it ('titans' mode, no q/k RMSNorm,
   *  batch 1), the inference path of fast-update.ts (same math within float32 rounding, heads as
   *  block-diagonal 2-D matmuls, ~1/3 fewer kernels per segment; issue 17 item 3). Off here by
   *  default; the app reads with it (core/reading/read-document.ts ReadOptions.fast): on wasm at
   *  the default shape 1.27x the general path, at the small shape 1.06x (`npm run bench:model`). */
  fast?: boolean;
}

export interface ForwardResult {
  /** y_t = M*(q_t) with the causal rule W_{floor((p+1)/b)}, [B, T, d] */
  retrieved: tf.Tensor;
  state: MemoryState;
  surprise?: SurpriseReport;
}

let instanceCounter = 0;

export class NeuralMemory {
  readonly config: NeuralMemoryConfig;
  readonly params: Record<string, tf.Variable>;

  /**
   * @param init parameter values by name (shapes from paramShapes); missing ones are initialised
   *             randomly from `seed`.
   */
  constructor(config: NeuralMemoryConfig, opts: { seed?: number; init?: Record<string, ArrayLike<number>>; trainable?: boolean; name?: string } = {}) {
    validateConfig(config);
    this.config = config;
    const prefix = `${opts.name ?? 'neural_memory'}_${instanceCounter++}`;
    const init = initialParams(config, opts.seed ?? 0);
    this.params = {};
    for (const [k, shape] of Object.entries(paramShapes(config))) {
      const given = opts.init?.[k];
      const t = given ? tf.tensor(Float32Array.from(given), shape) : init[k]!;
      this.params[k] = tf.variable(t, opts.trainable ?? true, `${prefix}/${k}`);
      if (given) t.dispose();
    }
    tf.dispose(Object.values(init));
  }

  dispose(): void {
    tf.dispose(Object.values(this.params));
  }

  /** W0 tiled over the batch: per fast-weight tensor [B*h, ...] */
  initialWeights(batch: number, params: Params = this.params): FastWeights {
    return memParamNames(this.config).map((name) => {
      const w0 = params[name]!; // [h, ...]
      if (batch === 1) return tf.clone(w0);
      const reps = [batch, ...w0.shape.map(() => 1)];
      return tf.reshape(tf.tile(tf.expandDims(w0, 0), reps), [batch * this.config.heads, ...w0.shape.slice(1)]);
    });
  }

  /**
   * Read x [B, T, d] (positions state.pos .. state.pos + T - 1): store every chunk that completes
   * (the update, docs/titans.md Eq. 13-14: `update`) and retrieve for every token (the retrieval,
   * Eq. 15: `CausalRetrieval`). The given state is not disposed.
   */
  forward(x: tf.Tensor, state: MemoryState | null = null, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const p = opts.params ?? this.params;
    const [B, T, d] = x.shape as [number, number, number];
    if (x.rank !== 3 || d !== c.dim) throw new Error(`expected x [B, T, ${c.dim}], got [${x.shape.join(', ')}]`);
    if (T < 1) throw new Error('empty input');
    if (state && state.batch !== B) throw new Error(`state is for batch ${state.batch}, input has ${B}`);
    const G = B * c.heads;
    const dh = c.dimHead;
    const span = callSpan(c, state, T);
    const withSurprise = opts.surprise === true;

    interface Out {
      retrieved: tf.Tensor;
      W: FastWeights;
      S: FastWeights;
      Wg: FastWeights;
      carry: tf.Tensor | null;
      surprise: SurpriseTensors | null;
    }
    const out = tf.tidy((): tf.TensorContainer => {
      const xFull = state?.carry ? tf.concat([state.carry, x], 1) : x; //  [B, p1-cs, d]
      // inputs to store and retrieve each get their own RMSNorm (docs/titans.md section 1, Projections)
      const xs = c.preNorm ? rmsNorm(xFull, p.storeNorm!, c.rmsEps) : xFull; // [B, p1-cs, d]
      const xr = c.preNorm ? rmsNorm(xFull, p.retrieveNorm!, c.rmsEps) : xFull; // [B, p1-cs, d]
      const carry = span.carryFrom < span.p1 ? callRows(xFull, span.cs, span.carryFrom, span.p1 - span.carryFrom) : null;

      if (opts.fast === true && span.nStore > 0 && fastUpdateApplies(c, B, !state || sameWeights(state.gradWeights, state.weights))) {
        // the inference path (fast-update.ts): same update and retrieval, fewer kernels
        const W0 = state ? state.weights : this.initialWeights(B, p);
        const S0 = state ? state.momentum : W0.map((w) => tf.zerosLike(w));
        const f = fastCall(c, p, xs, xr, span, W0, S0, withSurprise);
        const Y = tf.reshape(tf.transpose(tf.reshape(f.Y, [T, c.heads, dh]), [1, 0, 2]), [G, T, dh]);
        const retrieved = combineHeads(c, p, Y, () => callRows(xr, span.cs, span.p0, T));
        const o: Out = { retrieved, W: f.W, S: f.S, Wg: f.W, carry, surprise: f.surprise };
        return o as unknown as tf.TensorContainer;
      }

      // q_t = x_t W_Q (conv, SiLU, l2 in 'titans' mode) of this call's tokens      [G, T, dh]
      const read = new CausalRetrieval(c, tf.slice(project(c, p, xr, 'q'), [0, span.p0 - span.cs, 0], [G, T, dh]), span.p0, span.p1);

      // M_{n0}: the memory as the call finds it (W0 tiled and S = 0 at the start of a document)
      const W0 = state ? state.weights : this.initialWeights(B, p); //   each [G, ...]
      const start: Memory = {
        W: W0,
        S: state ? state.momentum : W0.map((w) => tf.zerosLike(w)),
        Wg: state ? state.gradWeights : W0,
      };
      // tensors handed in with the state: never disposed here, never shared with the new state
      const given = new Set<tf.Tensor>(state ? [...state.weights, ...state.momentum, ...state.gradWeights] : []);

      // retrieval group n0 reads the weights the call starts with. When the first gradient is
      // taken at those same weights (always in 'titans' mode), its queries ride along in that
      // gradient's forward pass (one memory forward for both); else they are read here.
      const rideAlong = span.nStore > 0 && sameWeights(start.Wg, start.W);
      if (!rideAlong) read.add(tf.tidy(() => read.read(span.n0, start.W) ?? tf.zeros([G, 0, dh])));

      let end = start;
      let surprise: SurpriseTensors | null = null;
      if (span.nStore > 0) {
        const u = this.update(p, xs, span, start, given, read, rideAlong ? span.n0 : null, {
          withSurprise,
          maxChunksPerBatch: Math.max(1, opts.maxChunksPerBatch ?? 32),
        });
        end = u.memory;
        surprise = u.surprise;
      }

      // y_t for every token of the call (Eq. 15), heads gated and merged             [B, T, d]
      const retrieved = combineHeads(c, p, read.output(), () => callRows(xr, span.cs, span.p0, T));

      // tensors handed in with the state must not be shared by the new state (the caller disposes
      // the old one): clone them (a clone shares the data, no copy)
      const memo = new Map<tf.Tensor, tf.Tensor>();
      const own = (t: tf.Tensor) => {
        if (!given.has(t)) return t;
        if (!memo.has(t)) memo.set(t, tf.clone(t));
        return memo.get(t)!;
      };
      const o: Out = { retrieved, W: end.W.map(own), S: end.S.map(own), Wg: end.Wg.map(own), carry, surprise };
      return o as unknown as tf.TensorContainer; // tidy keeps every tensor inside
    }) as unknown as Out;

    const newState: MemoryState = {
      pos: span.p1,
      batch: B,
      weights: out.W,
      momentum: out.S,
      gradWeights: out.Wg,
      carry: out.carry,
    };
    const result: ForwardResult = { retrieved: out.retrieved, state: newState };
    if (withSurprise) {
      const names = memParamNames(c);
      result.surprise = out.surprise
        ? readSurprise(out.surprise, { start: span.s0, firstChunk: span.n0, tensorNames: names })
        : emptySurprise(span.s0, span.n0, G, names);
    }
    return result;
  }

  /**
   * The update (docs/titans.md section 1, Update; paper Eq. 12-14) of the chunks n0 .. n1-1 that
   * this call completes, chunk by chunk (the recurrence is non-linear between chunks):
   *   g_n = grad_W sum_{i in chunk n} theta_i l_i(W)  at W = Wg       surprise of chunk n (Eq. 12-14)
   *   S_n = eta_n S_{n-1} - g_n                                        momentum, past surprise (Eq. 14)
   *   W_n = (1 - alpha_n) W_{n-1} + S_n                                forgetting + update (Eq. 13)
   * Wg, the weights gradients are taken at, is W_{n-1} in 'titans' mode (mini-batch gradient
   * descent per chunk, paper Eq. 16-18); in 'reference' mode it is refreshed every
   * `refreshInterval` tokens (titans-pytorch batch_size; null: never, all gradients at W0).
   * Chunks that share Wg get their gradients from one batched pass (at most maxChunksPerBatch).
   *
   * Each new W_{n+1} is handed to the retrieval at once (group n+1 reads it, Eq. 15), so that a
   * long call keeps only the current fast weights alive; when the next gradient pass is taken at
   * W_{n+1}, the group's queries ride along in that pass instead (`rideAlong`: the group the first
   * pass carries, or null). `start` and `given` tensors are never disposed here.
   */
  private update(
    p: Params,
    xs: tf.Tensor,
    span: CallSpan,
    start: Memory,
    given: Set<tf.Tensor>,
    read: CausalRetrieval,
    rideAlong: number | null,
    o: { withSurprise: boolean; maxChunksPerBatch: number },
  ): { memory: Memory; surprise: SurpriseTensors | null } {
    const c = this.config;
    const b = c.chunkSize;
    const R = c.refreshInterval;
    const dh = c.dimHead;
    const { n0, n1, s0, nStore } = span;
    const G = xs.shape[0]! * c.heads;
    let { W, S, Wg } = start; //                                     W_{n-1}, S_{n-1}, Wg: each [G, ...]

    // free fast weights that are no longer needed (long calls would otherwise keep W_n, S_n of
    // every chunk alive until the end of the call; tensors the gradient tape needs are kept by
    // the tape itself, so this is safe under tf.grads too)
    const release = (ts: tf.Tensor[]) => {
      const live = new Set<tf.Tensor>([...W, ...S, ...Wg]);
      for (const t of ts) if (!given.has(t) && !live.has(t) && !t.isDisposed) t.dispose();
    };

    // k_t = x_t W_K, v_t = x_t W_V (Eq. 11; conv, SiLU, l2 on k in 'titans' mode) of the tokens
    // to store, positions [s0, n1 b)                                                 [G, nStore, dh]
    const K = tf.slice(project(c, p, xs, 'k'), [0, s0 - span.cs, 0], [G, nStore, dh]);
    const V = tf.slice(project(c, p, xs, 'v'), [0, s0 - span.cs, 0], [G, nStore, dh]);
    const xChunks = callRows(xs, span.cs, s0, nStore); //                [B, nStore, d]
    const theta = thetaGate(c, p, xChunks); // theta_t (docs/titans.md Gates)     [G, nStore]
    const gates = chunkGates(c, p, xChunks); // eta_n, alpha_n                   each [G, n1-n0]

    const sLoss: tf.Tensor[] = []; // l_t per gradient pass                      [G, m b]
    const sNorms: tf.Tensor[][] = []; // ||grad_W l_t|| per pass, per fast-weight tensor
    const sMom: tf.Tensor[] = []; // ||S_n|| per chunk                           [G]
    let deferred = rideAlong;
    let n = n0;
    while (n < n1) {
      // chunks n .. end-1 take their gradients at the same weights Wg: one batched pass
      let end = n1;
      if (R !== null) end = Math.min(end, (Math.floor((n * b) / R) + 1) * (R / b));
      end = Math.min(end, n + o.maxChunksPerBatch);
      const m = end - n;
      const off = (n - n0) * b;
      const WgNow = Wg;
      const extraGroup = deferred;
      deferred = null;
      // g_n for the m chunks at Wg (docs/titans.md Explicit inner gradient)   each [G, m, ...]
      const cg = tf.tidy(() => {
        const r = memChunkGrads(
          c,
          WgNow,
          tf.slice(K, [0, off, 0], [G, m * b, dh]),
          tf.slice(V, [0, off, 0], [G, m * b, dh]),
          tf.slice(theta, [0, off], [G, m * b]),
          m,
          b,
          o.withSurprise,
          extraGroup === null ? null : read.queries(extraGroup),
        );
        return r as unknown as tf.TensorContainer;
      }) as unknown as ReturnType<typeof memChunkGrads>;
      read.add(cg.extraP); // y_t = M_{Wg}(q_t) of the group that rode along (Eq. 15)
      if (o.withSurprise) {
        sLoss.push(cg.loss);
        sNorms.push(cg.tokenGradNorms!);
      } else {
        cg.loss.dispose();
      }
      for (let j = 0; j < m; j++) {
        const col = n - n0;
        const prev = [...W, ...S, ...Wg];
        const Wp = W;
        const Sp = S;
        // the group reading W_{n+1} is deferred to the next gradient pass when that pass is
        // taken at W_{n+1} (a refresh happens now and chunks remain)
        const refreshNow = R !== null && ((n + 1) * b) % R === 0;
        const defer = refreshNow && n + 1 < n1;
        const step = tf.tidy(() => {
          const g = cg.grads.map((t) => chunkSlice(t, j)); // g_n                each [G, ...]
          const e = tf.reshape(tf.slice(gates.eta, [0, col], [G, 1]), [G]); // eta_n     [G]
          const a = tf.reshape(tf.slice(gates.alpha, [0, col], [G, 1]), [G]); // alpha_n [G]
          const r = momentumStep(Sp, Wp, g, e, a); // S_n (Eq. 14), W_n (Eq. 13)
          // retrieval group n+1 reads W_n (chunk n's own closing token included, Eq. 15)
          const piece = (defer ? null : read.read(n + 1, r.W)) ?? tf.zeros([G, 0, dh]);
          const mn = o.withSurprise ? momentumNorm(r.S) : tf.zeros([0]);
          return { W: r.W, S: r.S, piece, mn } as unknown as tf.TensorContainer;
        }) as unknown as { W: FastWeights; S: FastWeights; piece: tf.Tensor; mn: tf.Tensor };
        W = step.W;
        S = step.S;
        read.add(step.piece);
        if (o.withSurprise) sMom.push(step.mn);
        else step.mn.dispose();
        n += 1;
        if (refreshNow) Wg = W; // refresh the gradient weights
        if (defer) deferred = n;
        release(prev);
      }
      tf.dispose(cg.grads);
    }

    let surprise: SurpriseTensors | null = null;
    if (o.withSurprise) {
      const cat1 = (ts: tf.Tensor[]) => (ts.length === 1 ? ts[0]! : tf.concat(ts, 1));
      surprise = {
        loss: cat1(sLoss), //                                            [G, nStore]
        theta, //                                                        [G, nStore]
        gradNorm: sNorms[0]!.map((_, i) => cat1(sNorms.map((ns) => ns[i]!))), // each [G, nStore]
        eta: gates.eta, //                                               [G, n1-n0]
        alpha: gates.alpha, //                                           [G, n1-n0]
        momentumNorm: tf.stack(sMom, 1), //                              [G, n1-n0]
      };
    }
    return { memory: { W, S, Wg }, surprise };
  }
}

/** fast weights W, momentum S and the gradient weights Wg of one point of the recurrence */
interface Memory {
  W: FastWeights;
  S: FastWeights;
  Wg: FastWeights;
}

const sameWeights = (a: FastWeights, b: FastWeights) => a.every((t, i) => t === b[i]);

/** Where a call of T tokens sits in the document: absolute positions, chunk n = [n b, (n+1) b). */
interface CallSpan {
  /** absolute positions of x[:, 0] and one past x[:, T-1] */
  p0: number;
  p1: number;
  /** absolute position of xFull[:, 0] (the carried inputs come before x) */
  cs: number;
  /** chunks completed before and after the call: it stores chunks n0 .. n1-1 */
  n0: number;
  n1: number;
  /** first token not yet stored (n0 b) and the number stored now ((n1 - n0) b) */
  s0: number;
  nStore: number;
  /** first position the next call needs (its unfinished chunk and the conv context before it) */
  carryFrom: number;
}

function callSpan(c: NeuralMemoryConfig, state: MemoryState | null, T: number): CallSpan {
  const b = c.chunkSize;
  const p0 = state?.pos ?? 0;
  const p1 = p0 + T;
  const carryLen = state?.carry ? state.carry.shape[1]! : 0;
  const n0 = Math.floor(p0 / b);
  const n1 = Math.floor(p1 / b);
  const keepConv = c.mode === 'titans' ? c.convKernel - 1 : 0;
  return { p0, p1, cs: p0 - carryLen, n0, n1, s0: n0 * b, nStore: (n1 - n0) * b, carryFrom: Math.max(0, n1 * b - keepConv) };
}

/** rows of t [B', p1-cs, ...] at absolute positions [from, from + n) (t's row 0 is at cs) */
function callRows(t: tf.Tensor, cs: number, from: number, n: number): tf.Tensor {
  return tf.slice(t, [0, from - cs, 0], [t.shape[0]!, n, t.shape[2]!]);
}

/**
 * The retrieval (docs/titans.md section 1, Retrieval; paper Eq. 15): y_t = M*(q_t), a forward pass
 * of the memory without update, with the causal rule: the token at absolute position p reads
 * W_j, j = floor((p + 1) / b), the weights after every chunk whose tokens are all <= p. The tokens
 * of a call that read W_j form retrieval group j, positions [max(p0, j b - 1), min(p1, (j+1) b - 1)).
 * Groups are read in order j = n0, n0 + 1, ... as the update produces W_j.
 */
class CausalRetrieval {
  private readonly groups: tf.Tensor[] = [];

  /** Q [G, T, dh]: the queries of the call's tokens, positions [p0, p1) */
  constructor(
    private readonly c: NeuralMemoryConfig,
    private readonly Q: tf.Tensor,
    private readonly p0: number,
    private readonly p1: number,
  ) {}

  /** queries of group j [G, hi-lo, dh]; null when no token of this call reads W_j */
  queries(j: number): tf.Tensor | null {
    const b = this.c.chunkSize;
    const lo = Math.max(this.p0, j * b - 1);
    const hi = Math.min(this.p1, (j + 1) * b - 1);
    return hi > lo ? tf.slice(this.Q, [0, lo - this.p0, 0], [this.Q.shape[0]!, hi - lo, this.c.dimHead]) : null;
  }

  /** y_t = M_{W_j}(q_t) for the tokens of group j (Eq. 15)                      [G, hi-lo, dh] */
  read(j: number, Wj: FastWeights): tf.Tensor | null {
    const q = this.queries(j);
    return q ? memForward(this.c, Wj, q).P : null;
  }

  /** keep the next group's outputs (an empty or missing one is dropped) */
  add(y: tf.Tensor | null): void {
    if (!y) return;
    if (y.shape[1]! > 0) this.groups.push(y);
    else y.dispose();
  }

  /** every token's y_t, in token order                                                   [G, T, dh] */
  output(): tf.Tensor {
    return this.groups.length === 1 ? this.groups[0]! : tf.concat(this.groups, 1);
  }
}

/**
 * Multi-head output (docs/titans.md section 1, Multi-head memory): optional per-head RMSNorm of y,
 * then each head gated by sigmoid(x W_gate) and the heads merged with a linear map.
 * Y [G, T, dh]; xq () => [B, T, d], the retrieve-normed inputs of the same tokens. -> [B, T, d]
 */
function combineHeads(c: NeuralMemoryConfig, p: Params, Y: tf.Tensor, xq: () => tf.Tensor): tf.Tensor {
  const H = c.heads;
  const [G, T] = Y.shape as [number, number];
  if (c.postNorm) Y = multiheadRmsNorm(Y, p.postNorm!, H, c.rmsEps);
  if (H === 1) return mergeHeads(Y, 1);
  const gate = tf.sigmoid(linear(xq(), p.gateW!)); //                   [B, T, h]
  const gateG = tf.reshape(tf.transpose(gate, [0, 2, 1]), [G, T, 1]); // [G, T, 1]
  return linear(mergeHeads(tf.mul(Y, gateG), H), p.outW!); //          [B, T, d]
}

function emptySurprise(start: number, firstChunk: number, memories: number, tensorNames: string[]): SurpriseReport {
  const z = new Float32Array(0);
  return {
    start, length: 0, memories, tensorNames, loss: z, theta: z, gradNorm: tensorNames.map(() => z),
    firstChunk, chunks: 0, eta: z, alpha: z, momentumNorm: z,
  };
}

/** every distinct tensor of a state */
function stateTensors(s: MemoryState): tf.Tensor[] {
  const set = new Set<tf.Tensor>([...s.weights, ...s.momentum, ...s.gradWeights]);
  if (s.carry) set.add(s.carry);
  return [...set];
}

export function disposeState(s: MemoryState | null | undefined): void {
  if (s) tf.dispose(stateTensors(s).filter((t) => !t.isDisposed));
}

/** state -> plain Float32Arrays (e.g. to store with a document) */
export function serializeState(s: MemoryState): SerializedMemoryState {
  const read = (t: tf.Tensor) => (t.dataSync() as Float32Array).slice();
  return {
    version: 1,
    pos: s.pos,
    batch: s.batch,
    shapes: s.weights.map((w) => w.shape.slice()),
    weights: s.weights.map(read),
    momentum: s.momentum.map(read),
    gradWeights: s.gradWeights.map(read),
    carry: s.carry ? { shape: s.carry.shape.slice(), data: read(s.carry) } : null,
  };
}

export function deserializeState(z: SerializedMemoryState): MemoryState {
  if (z.version !== 1) throw new Error(`unknown memory state version ${z.version}`);
  const mk = (a: Float32Array[]) => a.map((d, i) => tf.tensor(d, z.shapes[i]));
  const weights = mk(z.weights);
  const same = z.gradWeights.every((g, i) => g.length === z.weights[i]!.length && g.every((v, j) => v === z.weights[i]![j]));
  return {
    pos: z.pos,
    batch: z.batch,
    weights,
    momentum: mk(z.momentum),
    gradWeights: same ? weights : mk(z.gradWeights),
    carry: z.carry ? tf.tensor(z.carry.data, z.carry.shape) : null,
  };
}

// ---------------------------------------------------------------- initialisation

/** random initial parameters (seeded) */
export function initialParams(c: NeuralMemoryConfig, seed: number): Record<string, tf.Tensor> {
  const shapes = paramShapes(c);
  const out: Record<string, tf.Tensor> = {};
  let s = seed * 7919 + 17;
  const next = () => (s = (s * 48271) % 2147483647);
  for (const [k, shape] of Object.entries(shapes)) {
    const sd = next();
    let t: tf.Tensor;
    if (k === 'storeNorm' || k === 'retrieveNorm') t = tf.ones(shape);
    else if (k === 'qNorm' || k === 'kNorm' || k === 'postNorm' || k === 'memGamma') t = tf.zeros(shape); // scale gamma + 1 = 1
    else if (k.startsWith('conv')) {
      // near-identity causal conv: the current-token tap is 1, earlier taps small
      const [K, C] = shape as [number, number];
      t = tf.tidy(() => tf.concat([tf.randomNormal([K - 1, C], 0, 0.1, 'float32', sd), tf.ones([1, C])], 0));
    } else if (k === 'thetaB') t = tf.zeros(shape); // theta = max_lr / 2 at start
    else if (k === 'etaB') t = tf.fill(shape, 2); // eta ~ 0.88
    else if (k === 'alphaB') t = tf.fill(shape, -4); // alpha ~ 0.018
    else if (k.startsWith('mem')) {
      // xavier uniform per head (titans-pytorch MemoryMLP)
      const [, fi, fo] = shape as [number, number, number];
      const a = Math.sqrt(6 / (fi + fo));
      t = tf.randomUniform(shape, -a, a, 'float32', sd);
    } else {
      const fanIn = shape[0]!;
      t = tf.randomNormal(shape, 0, 1 / Math.sqrt(fanIn), 'float32', sd);
    }
    out[k] = t;
  }
  return out;
}
