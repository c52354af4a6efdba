// Messages between the core and the model worker, validated on both sides (a process boundary in
// spirit: the worker owns TensorFlow.js and the model; the core owns the queue and the UI's API).
import { z } from 'zod';
import { BookAnswer, ModelInfo, RecallResult } from '../api/contract.js';
import { ApiErrorShape } from '../api/errors.js';

export const WorkerSettings = z.object({
  databasePath: z.string(),
  dataDir: z.string(),
  /** a model checkpoint; absent: the library's default model */
  modelFile: z.string().optional(),
  /** force a TensorFlow.js backend (else the first that works) */
  backend: z.string().optional(),
  stepTokens: z.number().int().positive().optional(),
  checkpointTokens: z.number().int().positive().optional(),
});
export type WorkerSettings = z.infer<typeof WorkerSettings>;

export const ToWorker = z.discriminatedUnion('type', [
  z.object({ type: z.literal('read'), docId: z.number().int().positive() }),
  /** stop after the current step, writing a checkpoint */
  z.object({ type: z.literal('pause') }),
  /** the recall probe (answered between reading steps) */
  z.object({ type: z.literal('recall'), requestId: z.number().int(), cue: z.string().min(1).max(2000), docIds: z.array(z.number().int().positive()).optional(), next: z.number().int().min(0).max(200) }),
  /** answer a question from one book: its memory loaded, the context and question read, then generated */
  z.object({ type: z.literal('answer'), requestId: z.number().int(), docId: z.number().int().positive(), question: z.string().min(1).max(2000), context: z.string().max(20_000), maxTokens: z.number().int().min(1).max(512), useMemory: z.boolean(), decoding: z.enum(['copy', 'free']) }),
  /** score candidate passages for a question, each with its book's memory loaded */
  z.object({ type: z.literal('scorePassages'), requestId: z.number().int(), question: z.string().min(1).max(2000), passages: z.array(z.object({ docId: z.number().int().positive(), text: z.string().max(20_000) })).max(50), useMemory: z.boolean() }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

const WorkerAnswer = BookAnswer.pick({ text: true, usedMemory: true, firstTokenMs: true, ms: true });

export const FromWorker = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), model: ModelInfo, backend: z.string() }),
  /** the model could not be loaded: the worker exits */
  z.object({ type: z.literal('fatal'), error: ApiErrorShape }),
  z.object({ type: z.literal('progress'), docId: z.number().int(), done: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  z.object({
    type: z.literal('finished'),
    docId: z.number().int(),
    outcome: z.enum(['done', 'paused']),
    tokensDone: z.number().int().nonnegative(),
    tokensTotal: z.number().int().nonnegative(),
    seconds: z.number().nonnegative(),
  }),
  z.object({ type: z.literal('failed'), docId: z.number().int(), error: ApiErrorShape }),
  z.object({ type: z.literal('recalled'), requestId: z.number().int(), result: RecallResult }),
  /** a recall, answer or passage score failed */
  z.object({ type: z.literal('requestFailed'), requestId: z.number().int(), error: ApiErrorShape }),
  z.object({ type: z.literal('answerText'), requestId: z.number().int(), text: z.string() }),
  z.object({ type: z.literal('passagesScored'), requestId: z.number().int(), scores: z.array(z.number()) }),
  z.object({ type: z.literal('answered'), requestId: z.number().int(), ...WorkerAnswer.shape }),
]);
export type FromWorker = z.infer<typeof FromWorker>;

/** One book's answer, as the worker's 'answered' message carries it (core/ask/answer-from-book.ts):
 * the worker's part of the contract's BookAnswer. usedMemory false: the book has not been read by
 * this model yet. */
export type WorkerAnswer = z.infer<typeof WorkerAnswer>;
