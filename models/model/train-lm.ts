// Language-model training of a TitansModel on texts: tokenize, split off a held-out part, sample
// mixed-document windows, train with AdamW (warmup + cosine, clipping), checkpoint and resume.
// Used by `titans-reader train`, and later by fine-tuning and the base-model recipe.
import * as tf from '@tensorflow/tfjs';
import type { JsonValue } from '../checkpoint/format.js';
import { evaluationBatches, splitDocuments, WindowSampler } from '../train/data.js';
import { train, type StepMetrics, type TrainResult } from '../train/trainer.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { TitansModel } from './model.js';

export interface TrainLmOptions {
  model: TitansModel;
  tokenizer: Tokenizer;
  texts: string[];
  steps: number;
  batchSize?: number;
  /** tokens per training window */
  seqLen?: number;
  peakLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  clip?: number;
  /** fraction of every text held out for evaluation (its tail) */
  heldOut?: number;
  /** whole texts to evaluate on instead (then every training text trains whole) */
  heldOutTexts?: string[];
  evalEvery?: number;
  /** at most this many windows in the held-out evaluation */
  evalWindows?: number;
  seed?: number;
  /** skip the held-out evaluation before training (heldOutBefore is then NaN) */
  skipInitialEval?: boolean;
  /** which parameters train (default all) */
  trainable?: (name: string) => boolean;
  checkpointPath?: string;
  checkpointEvery?: number | { steps?: number; seconds?: number };
  signal?: AbortSignal;
  onStep?: (m: StepMetrics) => void;
  /** after the data is ready and the first evaluation done, before the first step */
  onStart?: (info: { heldOutBefore: number; trainTokens: number; heldOutTokens: number }) => void;
  onCheckpoint?: (path: string, step: number) => void;
}

export interface TrainLmResult extends TrainResult {
  /** held-out loss (nats per token) before and after */
  heldOutBefore: number;
  heldOutAfter: number;
  trainTokens: number;
  heldOutTokens: number;
}

export function tokenizeTexts(tokenizer: Tokenizer, texts: string[]): Int32Array[] {
  const eos = tokenizer.special('<eos>');
  return texts.map((t) => {
    const ids = tokenizer.encode(t).ids;
    const out = new Int32Array(ids.length + 1);
    out.set(ids);
    out[ids.length] = eos;
    return out;
  });
}

/** Mean next-token loss over evaluation windows, reading each loss asynchronously (every backend; webgpu cannot read synchronously) */
export async function heldOutLoss(model: TitansModel, docs: Int32Array[], seqLen: number, batchSize: number, maxWindows: number): Promise<number> {
  const batches = evaluationBatches(docs, seqLen, batchSize, maxWindows);
  if (batches.length === 0) return NaN;
  let sum = 0;
  let rows = 0;
  for (const b of batches) {
    const loss = tf.tidy(() => model.loss(tf.tensor2d(b.tokens, b.shape, 'int32')));
    try {
      sum += (await loss.data())[0]! * b.shape[0];
    } finally {
      loss.dispose();
    }
    rows += b.shape[0];
  }
  return sum / rows;
}

export async function trainLanguageModel(o: TrainLmOptions): Promise<TrainLmResult> {
  const seqLen = o.seqLen ?? 128;
  const batchSize = o.batchSize ?? 8;
  const evalWindows = o.evalWindows ?? 32;
  const docs = tokenizeTexts(o.tokenizer, o.texts);
  const split = o.heldOutTexts
    ? { train: docs, heldOut: tokenizeTexts(o.tokenizer, o.heldOutTexts) }
    : splitDocuments(docs, { fraction: o.heldOut ?? 0.1, seed: o.seed ?? 1 });
  const trainDocs = split.train.filter((d) => d.length > seqLen);
  if (trainDocs.length === 0) throw new Error(`the training texts are too short: each needs more than ${seqLen} tokens after the held-out part is removed`);
  const sampler = new WindowSampler({ docs: trainDocs, batchSize, seqLen, seed: o.seed ?? 1 });
  const params = Object.fromEntries(Object.entries(o.model.params.all).filter(([name]) => (o.trainable ? o.trainable(name) : true)));
  const evaluate = () => heldOutLoss(o.model, split.heldOut, seqLen, batchSize, evalWindows);
  // a resumed run needs no 'before' (it is in the first run's log); it would cost a full evaluation
  const heldOutBefore = o.skipInitialEval ? NaN : await evaluate();
  const trainTokens = split.train.reduce((n, d) => n + d.length, 0);
  const heldOutTokens = split.heldOut.reduce((n, d) => n + d.length, 0);
  o.onStart?.({ heldOutBefore, trainTokens, heldOutTokens });
  const result = await train<tf.Tensor2D>({
    params,
    loss: (batch) => o.model.loss(batch),
    nextBatch: () => sampler.nextTensor(),
    steps: o.steps,
    schedule: { peakLr: o.peakLr ?? 3e-3, warmupSteps: o.warmupSteps ?? Math.min(100, Math.ceil(o.steps / 10)), minLrRatio: 0.1 },
    clip: o.clip ?? 1,
    weightDecay: o.weightDecay ?? 0.1,
    tokensPerBatch: batchSize * seqLen,
    evalEvery: o.evalEvery,
    evalLossAsync: evaluate,
    sampler,
    config: o.model.config as unknown as JsonValue,
    tokenizer: o.tokenizer.spec as unknown as JsonValue,
    ...(o.checkpointPath ? { checkpointPath: o.checkpointPath, checkpointEvery: o.checkpointEvery ?? { seconds: 120 } } : {}),
    signal: o.signal,
    onStep: o.onStep,
    onCheckpoint: o.onCheckpoint,
  });
  return {
    ...result,
    heldOutBefore,
    heldOutAfter: await evaluate(),
    trainTokens,
    heldOutTokens,
  };
}
