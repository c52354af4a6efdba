// Messages between the core and the fine-tune worker, validated on both sides.
import { z } from 'zod';
import { API_ERROR_CODES } from '../api/errors.js';

export const Trainable = z.enum(['all', 'memory', 'last']);
export type Trainable = z.infer<typeof Trainable>;

export const FineTuneOptions = z.object({
  steps: z.number().int().min(1).max(1_000_000).default(200),
  learningRate: z.number().positive().max(1).default(1e-3),
  /** which parameters train: all, the memory's projections and gates only, or the last layer */
  trainable: Trainable.default('all'),
  batchSize: z.number().int().min(1).max(64).default(2),
  seqLen: z.number().int().min(16).max(4096).default(256),
  /** fraction of every text held out for evaluation (its tail) */
  heldOut: z.number().min(0.02).max(0.5).default(0.1),
  evalEvery: z.number().int().min(1).max(100_000).default(25),
  seed: z.number().int().default(1),
});
export type FineTuneOptions = z.output<typeof FineTuneOptions>;

export const TrainSettings = z.object({
  mode: z.literal('train'),
  baseModelFile: z.string(),
  datasetFile: z.string(),
  checkpointPath: z.string(),
  outFile: z.string(),
  /** stored in the new model's checkpoint header */
  meta: z.record(z.string(), z.unknown()),
  options: FineTuneOptions,
  /** held-out loss measured by an earlier run of this fine-tune (a resumed run does not measure it again) */
  heldOutBefore: z.number().nullable(),
  checkpointSeconds: z.number().positive(),
  backend: z.string().optional(),
});
export type TrainSettings = z.infer<typeof TrainSettings>;

export const ScoreSettings = z.object({
  mode: z.literal('score'),
  modelFiles: z.array(z.string()).min(1).max(8),
  text: z.string().min(1).max(20_000),
  backend: z.string().optional(),
});
export type ScoreSettings = z.infer<typeof ScoreSettings>;

export const FineTuneWorkerData = z.discriminatedUnion('mode', [TrainSettings, ScoreSettings]);

export const ToTrainer = z.object({ type: z.literal('stop') });
export type ToTrainer = z.infer<typeof ToTrainer>;

const ErrorShape = z.object({ code: z.enum(API_ERROR_CODES), message: z.string(), hint: z.string().optional() });

export const FromTrainer = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), backend: z.string(), heldOutBefore: z.number(), trainTokens: z.number().int(), heldOutTokens: z.number().int() }),
  z.object({ type: z.literal('step'), step: z.number().int(), loss: z.number(), lr: z.number(), tokensPerSecond: z.number(), etaMs: z.number(), evalLoss: z.number().optional() }),
  z.object({ type: z.literal('checkpoint'), step: z.number().int() }),
  /** stopped on request, the checkpoint saved */
  z.object({ type: z.literal('stopped'), step: z.number().int() }),
  z.object({ type: z.literal('done'), step: z.number().int(), heldOutBefore: z.number(), heldOutAfter: z.number() }),
  z.object({ type: z.literal('scored'), models: z.array(z.object({ file: z.string(), meanSurprisal: z.number(), surprisal: z.array(z.number()) })), tokens: z.number().int() }),
  z.object({ type: z.literal('failed'), error: ErrorShape }),
]);
export type FromTrainer = z.infer<typeof FromTrainer>;
