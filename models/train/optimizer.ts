// AdamW (decoupled weight decay), global-norm gradient clipping, warmup + cosine learning rate.
import * as tf from '@tensorflow/tfjs';
import { type Checkpoint, type CheckpointTensor, CheckpointError, type JsonValue } from '../checkpoint/format.js';
import { assignCheckpointTensors, tensorsToCheckpoint } from '../checkpoint/tensors.js';

/** which parameters get weight decay: by default matrices (rank >= 2) whose name does not look
 * like a norm gain, a bias or a scale; 1-D tensors (gains, biases, gates' biases) never */
export type DecayFilter = (name: string, shape: readonly number[]) => boolean;

export const defaultDecayFilter: DecayFilter = (name, shape) => {
  const last = name.split(/[./]/).pop() ?? name;
  return shape.length >= 2 && !/norm|bias|gain|scale/i.test(last);
};

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** decoupled weight decay coefficient (PyTorch AdamW's weight_decay): p -= lr * wd * p */
  weightDecay?: number;
  decayFilter?: DecayFilter;
}

export interface AdamWStateMeta {
  step: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  names: string[];
}

/** AdamW as PyTorch's torch.optim.AdamW (amsgrad off):
 *   p <- p * (1 - lr*wd)                                    (decayed parameters only)
 *   m <- b1 m + (1-b1) g ;  v <- b2 v + (1-b2) g^2
 *   p <- p - (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * A parameter without a gradient this step is left alone (no decay, no moment update). */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** updates done so far (t of the bias correction is step + 1 for the next update) */
  step = 0;
  readonly m: Record<string, tf.Variable> = {};
  readonly v: Record<string, tf.Variable> = {};
  /** per-parameter step counts (differ from `step` only when some parameter missed gradients) */
  private readonly t: Record<string, number> = {};
  readonly decayed: ReadonlySet<string>;

  constructor(
    readonly params: Record<string, tf.Variable>,
    opts: AdamWOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    const filter = opts.decayFilter ?? defaultDecayFilter;
    const decayed = new Set<string>();
    for (const [name, p] of Object.entries(params)) {
      if (p.dtype !== 'float32') throw new Error(`AdamW: parameter "${name}" is ${p.dtype}, not float32`);
      this.m[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.v[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.t[name] = 0;
      if (filter(name, p.shape)) decayed.add(name);
    }
    this.decayed = decayed;
  }

  /** one update with learning rate `lr`; `grads` keyed like `params` (missing = no gradient) */
  apply(grads: Record<string, tf.Tensor | undefined | null>, lr: number): void {
    for (const name of Object.keys(grads)) {
      if (!(name in this.params)) throw new Error(`AdamW: gradient for unknown parameter "${name}"`);
    }
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this;
    tf.tidy(() => {
      for (const [name, p] of Object.entries(this.params)) {
        const g = grads[name];
        if (!g) continue;
        const t = ++this.t[name]!;
        const bc1 = 1 - b1 ** t;
        const bc2 = 1 - b2 ** t;
        const m = tf.add(tf.mul(this.m[name]!, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[name]!, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps);
        let next: tf.Tensor = p;
        if (wd !== 0 && this.decayed.has(name)) next = tf.mul(p, 1 - lr * wd);
        next = tf.sub(next, tf.mul(tf.div(m, denom), lr / bc1));
        this.m[name]!.assign(m);
        this.v[name]!.assign(v);
        p.assign(next);
      }
    });
    this.step++;
  }

  /** moments as checkpoint tensors ("m/<name>", "v/<name>"; prefix added in front) */
  stateTensors(prefix = ''): CheckpointTensor[] {
    return [...tensorsToCheckpoint(this.m, { prefix: `${prefix}m/` }), ...tensorsToCheckpoint(this.v, { prefix: `${prefix}v/` })];
  }

  stateMeta(): AdamWStateMeta & { t: Record<string, number> } {
    return {
      step: this.step,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      names: Object.keys(this.params),
      t: { ...this.t },
    };
  }

  /** restore moments and step counts written by stateTensors/stateMeta (exact resume) */
  loadState(tensors: CheckpointTensor[], meta: JsonValue, prefix = ''): void {
    const mm = meta as unknown as (AdamWStateMeta & { t?: Record<string, number> }) | null;
    if (!mm || typeof mm !== 'object' || !Number.isSafeInteger(mm.step)) {
      throw new CheckpointError('bad-header', 'optimizer state: missing step count');
    }
    assignCheckpointTensors(this.m, tensors, { prefix: `${prefix}m/`, allowExtra: true });
    assignCheckpointTensors(this.v, tensors, { prefix: `${prefix}v/`, allowExtra: true });
    this.step = mm.step;
    for (const name of Object.keys(this.params)) this.t[name] = mm.t?.[name] ?? mm.step;
  }

  /** a standalone optimizer checkpoint (kind 'optimizer') */
  toCheckpoint(meta: JsonValue = null): Checkpoint {
    return { kind: 'optimizer', meta: { adamw: this.stateMeta() as unknown as JsonValue, user: meta }, tensors: this.stateTensors() };
  }

  loadCheckpoint(c: Checkpoint): void {
    if (c.kind !== 'optimizer') throw new CheckpointError('invalid-input', `expected an optimizer checkpoint, got "${c.kind}"`);
    this.loadState(c.tensors, (c.meta as { adamw?: JsonValue } | null)?.adamw ?? null);
  }

  dispose(): void {
    for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.dispose();
  }
}

/** global L2 norm of all gradients, and gradients scaled by min(1, maxNorm / (norm + 1e-6))
 * (PyTorch's clip_grad_norm_). Returns the pre-clip norm and new tensors (caller disposes them;
 * inside a tf.tidy they are tracked as usual). maxNorm <= 0 or Infinity: no clipping. */
export function clipByGlobalNorm<K extends string>(
  grads: Record<K, tf.Tensor>,
  maxNorm: number,
): { grads: Record<K, tf.Tensor>; norm: number } {
  const norm = globalNorm(Object.values(grads) as tf.Tensor[]);
  const n = norm.dataSync()[0]!;
  norm.dispose();
  const out = {} as Record<K, tf.Tensor>;
  const scale = maxNorm > 0 && Number.isFinite(maxNorm) ? Math.min(1, maxNorm / (n + 1e-6)) : 1;
  for (const k of Object.keys(grads) as K[]) out[k] = scale === 1 ? tf.clone(grads[k]) : tf.mul(grads[k], scale);
  return { grads: out, norm: n };
}

/** clipping without a readback: scale = min(1, maxNorm / (norm + 1e-6)) computed as a tensor.
 * Returns new gradient tensors and the pre-clip norm as a scalar tensor (caller disposes). */
export function clipByGlobalNormTensor<K extends string>(
  grads: Record<K, tf.Tensor>,
  maxNorm: number,
): { grads: Record<K, tf.Tensor>; norm: tf.Scalar } {
  const norm = globalNorm(Object.values(grads) as tf.Tensor[]);
  const clip = maxNorm > 0 && Number.isFinite(maxNorm);
  const out = tf.tidy(() => {
    const scale = clip ? tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) : null;
    const o = {} as Record<string, tf.Tensor>;
    for (const k of Object.keys(grads)) o[k] = scale ? tf.mul(grads[k as K], scale) : tf.clone(grads[k as K]);
    return o;
  }) as Record<K, tf.Tensor>;
  return { grads: out, norm };
}

/** the global L2 norm as a scalar tensor (no readback) */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (grads.length === 0) return tf.scalar(0);
    const sq = grads.map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(sq.length === 1 ? sq[0]! : tf.addN(sq)) as tf.Scalar;
  });
}

export interface LrSchedule {
  /** the learning rate after warmup */
  peakLr: number;
  /** linear warmup steps (0: start at the peak) */
  warmupSteps?: number;
  /** the step at which the cosine reaches the floor (usually the run's total steps) */
  totalSteps: number;
  /** floor = peakLr * minLrRatio (default 0.1) */
  minLrRatio?: number;
}

/** learning rate of update number `step` (0-based): warmup peak*(step+1)/warmup for
 * step < warmup, then cosine from peak (at step = warmup) to peak*minLrRatio (at step >= total) */
export function learningRate(step: number, s: LrSchedule): number {
  const warm = s.warmupSteps ?? 0;
  const floor = s.peakLr * (s.minLrRatio ?? 0.1);
  if (step < warm) return (s.peakLr * (step + 1)) / warm;
  const span = Math.max(1, s.totalSteps - warm);
  const p = Math.min(1, Math.max(0, (step - warm) / span));
  return floor + (s.peakLr - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
