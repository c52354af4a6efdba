// The calls between the core and the model worker, over the RPC (core/rpc/rpc.ts), validated on
// both sides (a process boundary in spirit: the worker owns TensorFlow.js and the model; the core
// owns the queue and the UI's API).
import { z } from 'zod';
import { BookAnswer, ModelInfo, RecallResult } from '../api/contract.js';
import { ReadingWrite } from '../library/readings.js';

export const WorkerSettings = z.object({
  databasePath: z.string(),
  dataDir: z.string(),
  /** a model checkpoint; absent: the library's default model */
  modelFile: z.string().optional(),
  /** force a TensorFlow.js backend (else the first that works) */
  backend: z.string().optional(),
  /** 'tfjs': read with TensorFlow.js alone; absent: onnxruntime where it applies (core/reading/reading-engine.ts) */
  readEngine: z.enum(['onnx', 'tfjs']).optional(),
  stepTokens: z.number().int().positive().optional(),
  checkpointTokens: z.number().int().positive().optional(),
});
export type WorkerSettings = z.infer<typeof WorkerSettings>;

const DocId = z.number().int().positive();
const Question = z.string().min(1).max(2000);

/** What the model worker answers over the RPC (core/rpc/rpc.ts); every reply is validated on receipt. */
export const ModelWorkerContract = {
  /** the model, once loaded: the first call; a model that cannot load rejects it, and the worker exits */
  ready: {
    params: z.object({}),
    /** registration: what the core stores for the model (core/reading/reader-model.ts registerModel): the worker only reads the library */
    result: z.object({ model: ModelInfo, backend: z.string(), registration: z.object({ config: z.unknown(), tokenizer: z.unknown(), meta: z.record(z.string(), z.unknown()) }) }),
  },
  /** read one document into memory, streaming progress and the reading's writes (trace pieces,
   * checkpoints, the final memory: core/library/readings.ts), which the core applies in order, so
   * only the main thread writes the library; cancelled: it stops after the current step with a
   * checkpoint and returns outcome 'paused' */
  read: {
    params: z.object({ docId: DocId }),
    chunk: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('progress'), done: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
      z.object({ kind: z.literal('write'), write: ReadingWrite }),
    ]),
    result: z.object({
      outcome: z.enum(['done', 'paused']),
      tokensDone: z.number().int().nonnegative(),
      tokensTotal: z.number().int().nonnegative(),
      seconds: z.number().nonnegative(),
    }),
  },
  /** the recall probe (answered between reading steps) */
  recall: {
    params: z.object({ cue: z.string().min(1).max(2000), docIds: z.array(DocId).optional(), next: z.number().int().min(0).max(200) }),
    result: RecallResult,
  },
  /** answer a question from one book: its memory loaded, the context and question read, then
   * generated; the answer's text streams as it is generated */
  answer: {
    params: z.object({ docId: DocId, question: Question, context: z.string().max(20_000), maxTokens: z.number().int().min(1).max(512), useMemory: z.boolean(), decoding: z.enum(['copy', 'free']) }),
    chunk: z.object({ text: z.string() }),
    result: BookAnswer.pick({ text: true, usedMemory: true, firstTokenMs: true, ms: true }),
  },
  /** score candidate passages for a question, each with its book's memory loaded */
  scorePassages: {
    params: z.object({ question: Question, passages: z.array(z.object({ docId: DocId, text: z.string().max(20_000) })).max(50), useMemory: z.boolean() }),
    result: z.array(z.number()),
  },
};
export type ModelWorkerContract = typeof ModelWorkerContract;

/** One book's answer, as the worker's 'answer' call returns it (core/ask/answer-from-book.ts):
 * the worker's part of the contract's BookAnswer. usedMemory false: the book has not been read by
 * this model yet. */
export type WorkerAnswer = z.infer<typeof ModelWorkerContract.answer.result>;
