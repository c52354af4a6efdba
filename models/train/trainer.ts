// A generic, resumable training loop over any named set of tf.Variables and a loss function.
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import {
  type Checkpoint,
  CheckpointError,
  type JsonValue,
  readCheckpointFile,
  writeCheckpointFile,
} from '../checkpoint/format.js';
import { assignCheckpointTensors, tensorsToCheckpoint } from '../checkpoint/tensors.js';
import { prefetch } from '../util/readback.js';
import { AdamW, type DecayFilter, clipByGlobalNormTensor, learningRate } from './optimizer.js';

/** names of the optimizer's tensors in a training checkpoint ("optimizer/m/<param>", ".../v/...") */
export const OPTIMIZER_PREFIX = 'optimizer/';
export const TRAINING_META_VERSION = 1;

export interface StepMetrics {
  /** updates done so far (1 after the first update) */
  step: number;
  loss: number;
  lr: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  tokensPerSecond: number;
  /** since this call of train() started */
  elapsedMs: number;
  /** estimated time to the last step */
  etaMs: number;
  /** held-out loss when it was evaluated after this step */
  evalLoss?: number;
  /** the update was skipped (non-finite loss or gradients, nonFinite: 'skip') */
  skipped?: boolean;
}

/** something whose state decides the next batches (a WindowSampler) */
export interface StatefulSampler {
  getState(): unknown;
  setState(state: never): void;
}

export interface TrainOptions<B> {
  params: Record<string, tf.Variable>;
  /** loss of one batch; runs inside tf.variableGrads and a tf.tidy */
  loss: (batch: B, step: number) => tf.Scalar;
  /** the batch of update `step` (0-based); called inside the step's tf.tidy, so tensors it
   * creates are freed after the step */
  nextBatch: (step: number) => B;
  /** total updates (a resumed run continues up to this) */
  steps: number;
  /** peak learning rate, warmup, floor (ratio of the peak); the cosine ends at totalSteps
   * (default: steps) */
  schedule: { peakLr: number; warmupSteps?: number; minLrRatio?: number; totalSteps?: number };
  /** global-norm clipping threshold (default 1; 0 or Infinity: off) */
  clip?: number;
  /** decoupled weight decay (default 0.1, the paper's) */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  decayFilter?: DecayFilter;
  /** a non-finite loss or gradient norm: 'throw' (default; parameters keep their values from
   * before the step), 'skip' the update (the step still counts, the batch is consumed), or
   * 'apply' it anyway */
  nonFinite?: 'throw' | 'skip' | 'apply';
  /** an existing optimizer for `params` (the caller owns and disposes it); by default one is
   * created from the options above and disposed when train() returns */
  optimizer?: AdamW;
  /** tokens in one batch, for tokensPerSecond */
  tokensPerBatch?: number | ((batch: B) => number);
  evalEvery?: number;
  /** held-out loss, run inside tf.tidy (a returned scalar is read and freed) */
  evalLoss?: () => number | tf.Scalar;
  /** an asynchronous held-out loss instead (manages its own tensors) */
  evalLossAsync?: () => Promise<number>;
  /** save every N steps (a number) or every N steps / S seconds, whichever comes first */
  checkpointEvery?: number | { steps?: number; seconds?: number };
  checkpointPath?: string;
  /** resume from checkpointPath when it exists (default true), or from this file */
  resume?: boolean | string;
  /** also save when cancelled (default true); the file is replaced atomically either way */
  checkpointOnAbort?: boolean;
  /** the data sampler whose state goes into the checkpoint */
  sampler?: StatefulSampler;
  /** stored in the checkpoint header */
  config?: JsonValue;
  tokenizer?: JsonValue;
  meta?: JsonValue;
  signal?: AbortSignal;
  onStep?: (m: StepMetrics) => void;
  onCheckpoint?: (path: string, step: number) => void;
}

export interface TrainResult {
  /** updates done in total (including those before a resume) */
  step: number;
  /** the step this call started from (0, or the checkpoint's) */
  startStep: number;
  aborted: boolean;
  /** loss of every update done by this call, in order */
  losses: number[];
  evals: { step: number; loss: number }[];
  /** steps whose update was skipped (nonFinite: 'skip') */
  skipped: number[];
  /** mean wall time per step in this call */
  msPerStep: number;
}

export interface TrainingMeta {
  version: number;
  step: number;
  optimizer: JsonValue;
  sampler: JsonValue;
  user: JsonValue;
}

/** one checkpoint with everything needed to resume: parameters (under their own names, so the
 * file also loads as a model), AdamW moments under "optimizer/", the step and the sampler state */
export function trainingCheckpoint(args: {
  params: Record<string, tf.Variable>;
  optimizer: AdamW;
  step: number;
  sampler?: StatefulSampler;
  config?: JsonValue;
  tokenizer?: JsonValue;
  meta?: JsonValue;
}): Checkpoint {
  for (const name of Object.keys(args.params)) {
    if (name.startsWith(OPTIMIZER_PREFIX)) throw new Error(`parameter name "${name}" collides with the optimizer prefix`);
  }
  const training: TrainingMeta = {
    version: TRAINING_META_VERSION,
    step: args.step,
    optimizer: args.optimizer.stateMeta() as unknown as JsonValue,
    sampler: (args.sampler?.getState() ?? null) as JsonValue,
    user: args.meta ?? null,
  };
  return {
    kind: 'model',
    config: args.config ?? null,
    tokenizer: args.tokenizer ?? null,
    meta: { training } as unknown as JsonValue,
    tensors: [...tensorsToCheckpoint(args.params), ...args.optimizer.stateTensors(OPTIMIZER_PREFIX)],
  };
}

/** restore parameters, optimizer and sampler from a training checkpoint; returns its step */
export function restoreTraining(
  c: Checkpoint,
  args: { params: Record<string, tf.Variable>; optimizer?: AdamW; sampler?: StatefulSampler },
): number {
  const training = (c.meta as { training?: TrainingMeta } | null)?.training;
  if (!training || !Number.isSafeInteger(training.step)) {
    throw new CheckpointError('bad-header', 'not a training checkpoint (no training state in its meta)');
  }
  assignCheckpointTensors(
    args.params,
    c.tensors.filter((t) => !t.name.startsWith(OPTIMIZER_PREFIX)),
  );
  if (args.optimizer) args.optimizer.loadState(c.tensors, training.optimizer, OPTIMIZER_PREFIX);
  if (args.sampler && training.sampler !== null) args.sampler.setState(training.sampler as never);
  return training.step;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** train for `steps` updates with AdamW, warmup + cosine, global-norm clipping; resumable */
export async function train<B>(o: TrainOptions<B>): Promise<TrainResult> {
  const keys = Object.keys(o.params);
  const vars = keys.map((k) => o.params[k]!);
  for (const [k, v] of Object.entries(o.params)) {
    if (!v.trainable) throw new Error(`train: parameter "${k}" is not trainable`);
  }
  const optimizer =
    o.optimizer ??
    new AdamW(o.params, {
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weightDecay ?? 0.1,
      decayFilter: o.decayFilter,
    });
  try {
    return await run(o, optimizer, keys, vars);
  } finally {
    if (!o.optimizer) optimizer.dispose();
  }
}

async function run<B>(o: TrainOptions<B>, optimizer: AdamW, keys: string[], vars: tf.Variable[]): Promise<TrainResult> {
  const schedule = {
    peakLr: o.schedule.peakLr,
    warmupSteps: o.schedule.warmupSteps ?? 0,
    minLrRatio: o.schedule.minLrRatio ?? 0.1,
    totalSteps: o.schedule.totalSteps ?? o.steps,
  };
  const clip = o.clip ?? 1;
  const every = typeof o.checkpointEvery === 'number' ? { steps: o.checkpointEvery } : (o.checkpointEvery ?? {});
  const resumePath = typeof o.resume === 'string' ? o.resume : o.resume !== false ? o.checkpointPath : undefined;

  let step = 0;
  if (resumePath && existsSync(resumePath)) {
    step = restoreTraining(await readCheckpointFile(resumePath), { params: o.params, optimizer, sampler: o.sampler });
  }
  const startStep = step;

  const save = async () => {
    if (!o.checkpointPath) return;
    await prefetch([...Object.values(o.params), ...Object.values(optimizer.m), ...Object.values(optimizer.v)]); // webgpu: read asynchronously first
    await writeCheckpointFile(
      o.checkpointPath,
      trainingCheckpoint({ params: o.params, optimizer, step, sampler: o.sampler, config: o.config, tokenizer: o.tokenizer, meta: o.meta }),
    );
    o.onCheckpoint?.(o.checkpointPath, step);
  };
  const evaluate = async (): Promise<number> => {
    if (o.evalLossAsync) return o.evalLossAsync();
    const r = tf.tidy(() => o.evalLoss!());
    if (typeof r === 'number') return r;
    try {
      return (await r.data())[0]!; // asynchronously: the webgpu backend cannot read synchronously
    } finally {
      r.dispose();
    }
  };

  const nonFinite = o.nonFinite ?? 'throw';
  const skippedSteps: number[] = [];
  const losses: number[] = [];
  const evals: { step: number; loss: number }[] = [];
  const t0 = performance.now();
  let lastSave = t0;
  let tokens = 0;
  let aborted = false;
  let savedAt = -1;
  while (step < o.steps) {
    if (o.signal?.aborted) {
      aborted = true;
      break;
    }
    const lr = learningRate(step, schedule);
    let batchTokens = 0;
    const s = step;
    const out = tf.tidy(() => {
      const batch = o.nextBatch(s);
      batchTokens = typeof o.tokensPerBatch === 'function' ? o.tokensPerBatch(batch) : (o.tokensPerBatch ?? 0);
      const { value, grads } = tf.variableGrads(() => {
        const l = o.loss(batch, s);
        if (l.rank !== 0) throw new Error(`train: the loss must be a scalar, got shape [${l.shape.join(', ')}]`);
        return l;
      }, vars);
      const named: Record<string, tf.Tensor> = {};
      keys.forEach((k, i) => {
        const g = grads[vars[i]!.name];
        if (g) named[k] = g;
      });
      const clipped = clipByGlobalNormTensor(named, clip);
      return { value, norm: clipped.norm, grads: clipped.grads };
    });
    let lossA: Float32Array | Int32Array | Uint8Array;
    let normA: Float32Array | Int32Array | Uint8Array;
    let skipped = false;
    try {
      [lossA, normA] = await Promise.all([out.value.data(), out.norm.data()]);
      if (!Number.isFinite(lossA[0]!) || !Number.isFinite(normA[0]!)) {
        const what = `non-finite ${Number.isFinite(lossA[0]!) ? 'gradient norm' : 'loss'} at step ${step + 1}`;
        if (nonFinite === 'throw') {
          throw new Error(`train: ${what}; parameters are left as after step ${step}${o.checkpointPath ? ` and the last checkpoint is intact` : ''}`);
        }
        skipped = nonFinite === 'skip';
      }
      if (!skipped) optimizer.apply(out.grads, lr);
    } finally {
      tf.dispose([out.value, out.norm, ...Object.values(out.grads)]);
    }
    if (skipped) skippedSteps.push(step + 1);
    step++;
    tokens += batchTokens;
    const loss = lossA[0]!;
    losses.push(loss);
    const now = performance.now();
    const elapsedMs = now - t0;
    const done = step - startStep;
    const m: StepMetrics = {
      step,
      ...(skipped ? { skipped } : {}),
      loss,
      lr,
      gradNorm: normA[0]!,
      tokensPerSecond: elapsedMs > 0 ? (tokens * 1000) / elapsedMs : 0,
      elapsedMs,
      etaMs: (elapsedMs / done) * (o.steps - step),
    };
    if ((o.evalLoss || o.evalLossAsync) && ((o.evalEvery && step % o.evalEvery === 0) || step === o.steps)) {
      m.evalLoss = await evaluate();
      evals.push({ step, loss: m.evalLoss });
    }
    o.onStep?.(m);
    if (
      o.checkpointPath &&
      ((every.steps && step % every.steps === 0) || (every.seconds !== undefined && now - lastSave >= every.seconds * 1000) || step === o.steps)
    ) {
      await save();
      savedAt = step;
      lastSave = performance.now();
    }
    await yieldToEventLoop();
  }
  if (aborted && o.checkpointOnAbort !== false && savedAt !== step && step > startStep) {
    await save();
  }
  const done = step - startStep;
  return {
    step,
    startStep,
    aborted,
    losses,
    evals,
    skipped: skippedSteps,
    msPerStep: done > 0 ? (performance.now() - t0) / done : 0,
  };
}
