// The calls between the core and the fine-tune worker, over the RPC (core/rpc/rpc.ts), validated on
// both sides.
import { z } from 'zod';
import { FINE_TUNE_DEFAULTS, FineTuneOptions } from '../api/contract.js';

const option = FineTuneOptions.shape;
const byDefault = FINE_TUNE_DEFAULTS;
/** The contract's FineTuneOptions, each defaulted: what a fine-tune runs with (parses to a FineTuneOptions). */
export const FineTuneRunOptions = z.object({
  steps: option.steps.default(byDefault.steps),
  learningRate: option.learningRate.default(byDefault.learningRate),
  trainable: option.trainable.default(byDefault.trainable),
  batchSize: option.batchSize.default(byDefault.batchSize),
  seqLen: option.seqLen.default(byDefault.seqLen),
  heldOut: option.heldOut.default(byDefault.heldOut),
  evalEvery: option.evalEvery.default(byDefault.evalEvery),
  seed: option.seed.default(byDefault.seed),
});

export const TrainSettings = z.object({
  baseModelFile: z.string(),
  datasetFile: z.string(),
  checkpointPath: z.string(),
  outFile: z.string(),
  /** stored in the new model's checkpoint header */
  meta: z.record(z.string(), z.unknown()),
  options: FineTuneRunOptions,
  /** held-out loss measured by an earlier run of this fine-tune (a resumed run does not measure it again) */
  heldOutBefore: z.number().nullable(),
  checkpointSeconds: z.number().positive(),
  backend: z.string().optional(),
});
export type TrainSettings = z.infer<typeof TrainSettings>;

export const ScoreSettings = z.object({
  modelFiles: z.array(z.string()).min(1).max(8),
  text: z.string().min(1).max(20_000),
  backend: z.string().optional(),
});
export type ScoreSettings = z.infer<typeof ScoreSettings>;

const Step = z.number().int();

/** What the fine-tune worker answers (one call per worker: the core starts a worker for each job). */
export const TrainerContract = {
  /** fine-tune a model; its progress streams; cancelled: it stops at its next step with the checkpoint saved and returns 'stopped' */
  train: {
    params: TrainSettings,
    chunk: z.discriminatedUnion('type', [
      z.object({ type: z.literal('started'), backend: z.string(), heldOutBefore: z.number(), trainTokens: z.number().int(), heldOutTokens: z.number().int() }),
      z.object({ type: z.literal('step'), step: Step, loss: z.number(), lr: z.number(), tokensPerSecond: z.number(), etaMs: z.number(), evalLoss: z.number().optional() }),
      z.object({ type: z.literal('checkpoint'), step: Step }),
    ]),
    result: z.discriminatedUnion('type', [
      /** stopped on request, the checkpoint saved */
      z.object({ type: z.literal('stopped'), step: Step }),
      z.object({ type: z.literal('done'), step: Step, heldOutBefore: z.number(), heldOutAfter: z.number() }),
    ]),
  },
  /** each model's surprisal on a passage */
  score: {
    params: ScoreSettings,
    result: z.object({ models: z.array(z.object({ file: z.string(), meanSurprisal: z.number(), surprisal: z.array(z.number()) })), tokens: z.number().int() }),
  },
};
export type TrainerContract = typeof TrainerContract;
