// Neural long-term memory module (docs/titans.md section 1; paper arXiv 2501.00663 section 3.1):
// chunked test-time update with momentum and forgetting, causal retrieval, state carried across
// calls with chunk alignment by absolute position (a document read in several calls gives exactly
// the result of one call).
//
// Shapes: B batch, T tokens in this call, d model width, h heads, dh head width, G = B*h
// memories (index g = b*h + head), b chunk length.

import * as tf from '@tensorflow/tfjs';
import { type NeuralMemoryConfig, memParamNames, paramShapes, validateConfig } from './config.js';
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
   * (docs/titans.md Eq. 13-14) and retrieve for every token (Eq. 15). The given state is not disposed.
   */
  forward(x: tf.Tensor, state: MemoryState | null = null, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const p = opts.params ?? this.params;
    const [B, T, d] = x.shape as [number, number, number];
    if (x.rank !== 3 || d !== c.dim) throw new Error(`expected x [B, T, ${c.dim}], got [${x.shape.join(', ')}]`);
    if (T < 1) throw new Error('empty input');
    if (state && state.batch !== B) throw new Error(`state is for batch ${state.batch}, input has ${B}`);
    const b = c.chunkSize;
    const H = c.heads;
    const dh = c.dimHead;
    const G = B * H;
    const R = c.refreshInterval;
    const maxM = Math.max(1, opts.maxChunksPerBatch ?? 32);
    const p0 = state?.pos ?? 0; // absolute position of x[:, 0]
    const p1 = p0 + T;
    const carryLen = state?.carry ? state.carry.shape[1]! : 0;
    const cs = p0 - carryLen; // absolute position of xFull[:, 0]
    const n0 = Math.floor(p0 / b); // chunks completed before this call
    const n1 = Math.floor(p1 / b); // chunks completed after it
    const s0 = n0 * b; // first token not yet stored
    const nStore = (n1 - n0) * b;
    const withSurprise = opts.surprise === true;
    const keepConv = c.mode === 'titans' ? c.convKernel - 1 : 0;
    const carryFrom = Math.max(0, n1 * b - keepConv); // first position the next call needs

    interface Out {
      retrieved: tf.Tensor;
      W: FastWeights;
      S: FastWeights;
      Wg: FastWeights;
      carry: tf.Tensor | null;
      surprise: SurpriseTensors | null;
    }
    const out = tf.tidy((): tf.TensorContainer => {
      const xFull = state?.carry ? tf.concat([state.carry, x], 1) : x; // [B, p1-cs, d]
      // inputs to store and retrieve each get their own RMSNorm (docs/titans.md section 1)
      const xs = c.preNorm ? rmsNorm(xFull, p.storeNorm!, c.rmsEps) : xFull;
      const xr = c.preNorm ? rmsNorm(xFull, p.retrieveNorm!, c.rmsEps) : xFull;
      const rows = (t: tf.Tensor, from: number, n: number) => tf.slice(t, [0, from - cs, 0], [t.shape[0]!, n, t.shape[2]!]);

      // queries of this call's tokens                                  [G, T, dh]
      const Q = tf.slice(project(c, p, xr, 'q'), [0, p0 - cs, 0], [G, T, dh]);

      let W: FastWeights = state ? state.weights : this.initialWeights(B, p);
      let S: FastWeights = state ? state.momentum : W.map((w) => tf.zerosLike(w));
      let Wg: FastWeights = state ? state.gradWeights : W;

      // tensors handed in with the state: never disposed here, never shared with the new state
      const given = new Set<tf.Tensor>(state ? [...state.weights, ...state.momentum, ...state.gradWeights] : []);
      // free fast weights that are no longer needed (long calls would otherwise keep W_n, S_n of
      // every chunk alive until the end of the call; tensors the gradient tape needs are kept by
      // the tape itself, so this is safe under tf.grads too)
      const release = (ts: tf.Tensor[]) => {
        const live = new Set<tf.Tensor>([...W, ...S, ...Wg]);
        for (const t of ts) if (!given.has(t) && !live.has(t) && !t.isDisposed) t.dispose();
      };

      // retrieval: token p reads W_{floor((p+1)/b)} (docs/titans.md causal rule)
      const pieces: tf.Tensor[] = [];
      const retrieve = (j: number, Wj: FastWeights): tf.Tensor | null => {
        const lo = Math.max(p0, j * b - 1);
        const hi = Math.min(p1, (j + 1) * b - 1);
        return hi > lo ? memForward(c, Wj, tf.slice(Q, [0, lo - p0, 0], [G, hi - lo, dh])).P : null;
      };
      // queries of retrieval group j, [G, hi-lo, dh] (empty when no token of this call reads W_j)
      const groupQ = (j: number): tf.Tensor | null => {
        const lo = Math.max(p0, j * b - 1);
        const hi = Math.min(p1, (j + 1) * b - 1);
        return hi > lo ? tf.slice(Q, [0, lo - p0, 0], [G, hi - lo, dh]) : null;
      };
      const sameWeights = (a: FastWeights, b2: FastWeights) => a.every((t, i) => t === b2[i]);
      // when the next gradient is taken at the weights a retrieval group reads (always in 'titans'
      // mode), the group's queries ride along in that gradient's forward pass
      let deferred: number | null = null;
      if (nStore > 0 && sameWeights(Wg, W)) deferred = n0;
      else {
        const first = tf.tidy(() => retrieve(n0, W) ?? tf.zeros([G, 0, dh]));
        if (first.shape[1]! > 0) pieces.push(first);
        else first.dispose();
      }

      const sLoss: tf.Tensor[] = [];
      const sNorms: tf.Tensor[][] = [];
      const sMom: tf.Tensor[] = [];
      let theta: tf.Tensor | null = null;
      let eta: tf.Tensor | null = null;
      let alpha: tf.Tensor | null = null;
      if (nStore > 0) {
        // keys and values of the tokens to store [s0, n1 b)                [G, nStore, dh]
        const K = tf.slice(project(c, p, xs, 'k'), [0, s0 - cs, 0], [G, nStore, dh]);
        const V = tf.slice(project(c, p, xs, 'v'), [0, s0 - cs, 0], [G, nStore, dh]);
        const xChunks = rows(xs, s0, nStore); //                           [B, nStore, d]
        const th = thetaGate(c, p, xChunks); // theta_t                  [G, nStore]
        const gates = chunkGates(c, p, xChunks); // eta_n, alpha_n        [G, n1-n0]
        theta = th;
        eta = gates.eta;
        alpha = gates.alpha;

        let n = n0;
        while (n < n1) {
          // chunks n .. end-1 take their gradients at the same weights Wg
          let end = n1;
          if (R !== null) end = Math.min(end, (Math.floor((n * b) / R) + 1) * (R / b));
          end = Math.min(end, n + maxM);
          const m = end - n;
          const off = (n - n0) * b;
          const WgNow = Wg;
          const extraGroup = deferred;
          deferred = null;
          const cg = tf.tidy(() => {
            const r = memChunkGrads(
              c,
              WgNow,
              tf.slice(K, [0, off, 0], [G, m * b, dh]),
              tf.slice(V, [0, off, 0], [G, m * b, dh]),
              tf.slice(th, [0, off], [G, m * b]),
              m,
              b,
              withSurprise,
              extraGroup === null ? null : groupQ(extraGroup),
            );
            return r as unknown as tf.TensorContainer;
          }) as unknown as ReturnType<typeof memChunkGrads>;
          if (cg.extraP) pieces.push(cg.extraP);
          if (withSurprise) {
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
              const g = cg.grads.map((t) => chunkSlice(t, j)); // g_n       [G, ...]
              const e = tf.reshape(tf.slice(gates.eta, [0, col], [G, 1]), [G]);
              const a = tf.reshape(tf.slice(gates.alpha, [0, col], [G, 1]), [G]);
              const r = momentumStep(Sp, Wp, g, e, a); // Eq. 13-14
              const piece = (defer ? null : retrieve(col + n0 + 1, r.W)) ?? tf.zeros([G, 0, dh]);
              const mn = withSurprise ? momentumNorm(r.S) : tf.zeros([0]);
              return { W: r.W, S: r.S, piece, mn } as unknown as tf.TensorContainer;
            }) as unknown as { W: FastWeights; S: FastWeights; piece: tf.Tensor; mn: tf.Tensor };
            W = step.W;
            S = step.S;
            if (step.piece.shape[1]! > 0) pieces.push(step.piece);
            else step.piece.dispose();
            if (withSurprise) sMom.push(step.mn);
            else step.mn.dispose();
            n += 1;
            if (refreshNow) Wg = W; // refresh the gradient weights
            if (defer) deferred = n;
            release(prev);
          }
          tf.dispose(cg.grads);
        }
      }

      // merge heads (docs/titans.md: gated per head by sigmoid(Linear(x)), merged with a linear map)
      let Y = pieces.length === 1 ? pieces[0]! : tf.concat(pieces, 1); // [G, T, dh]
      if (c.postNorm) Y = multiheadRmsNorm(Y, p.postNorm!, H, c.rmsEps);
      let retrieved: tf.Tensor;
      if (H > 1) {
        const xq = rows(xr, p0, T); //                                     [B, T, d]
        const gate = tf.sigmoid(linear(xq, p.gateW!)); //                  [B, T, h]
        const gateG = tf.reshape(tf.transpose(gate, [0, 2, 1]), [G, T, 1]);
        retrieved = linear(mergeHeads(tf.mul(Y, gateG), H), p.outW!); //  [B, T, d]
      } else {
        retrieved = mergeHeads(Y, 1);
      }

      const carry = carryFrom < p1 ? rows(xFull, carryFrom, p1 - carryFrom) : null;
      let surprise: SurpriseTensors | null = null;
      if (withSurprise && sLoss.length > 0) {
        const cat1 = (ts: tf.Tensor[]) => (ts.length === 1 ? ts[0]! : tf.concat(ts, 1));
        surprise = {
          loss: cat1(sLoss),
          theta: theta!,
          gradNorm: sNorms[0]!.map((_, i) => cat1(sNorms.map((ns) => ns[i]!))),
          eta: eta!,
          alpha: alpha!,
          momentumNorm: tf.stack(sMom, 1),
        };
      }
      // tensors handed in with the state must not be shared by the new state (the caller disposes
      // the old one): clone them (a clone shares the data, no copy)
      const memo = new Map<tf.Tensor, tf.Tensor>();
      const own = (t: tf.Tensor) => {
        if (!given.has(t)) return t;
        if (!memo.has(t)) memo.set(t, tf.clone(t));
        return memo.get(t)!;
      };
      const o: Out = { retrieved, W: W.map(own), S: S.map(own), Wg: Wg.map(own), carry, surprise };
      return o as unknown as tf.TensorContainer; // tidy keeps every tensor inside
    }) as unknown as Out;

    const newState: MemoryState = {
      pos: p1,
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
        ? readSurprise(out.surprise, { start: s0, firstChunk: n0, tensorNames: names })
        : emptySurprise(s0, n0, G, names);
    }
    return result;
  }
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
