// The fine-tune worker: owns TensorFlow.js for one job, served over the RPC (core/rpc/rpc.ts,
// contract in ./protocol.ts). 'train' fine-tunes a model on a dataset file
// (core/training/dataset.ts) with the project's resumable loop and writes the new version;
// 'score' measures each model's surprisal on a passage (comparing versions).
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import type { z } from 'zod';
import { backendLabel, selectBackend } from '../../models/backend.js';
import { readCheckpointFileSync, writeCheckpointFile, type JsonValue } from '../../models/checkpoint/format.js';
import { modelFromCheckpoint, modelToCheckpoint } from '../../models/model/io.js';
import { trainLanguageModel } from '../../models/model/train-lm.js';
import { disposeModelState, type ModelState } from '../../models/model/state.js';
import { prefetch } from '../../models/util/readback.js';
import { ApiError } from '../api/errors.js';
import { readDataset } from './dataset.js';
import { messagePort } from '../rpc/node-ports.js';
import { serveRpc, type RpcHandlers } from '../rpc/rpc.js';
import { TrainerContract, type ScoreSettings, type TrainSettings } from './protocol.js';
import { trainableFilter } from './trainable.js';

type TrainChunk = z.input<TrainerContract['train']['chunk']>;
type TrainResult = z.input<TrainerContract['train']['result']>;
type ScoreResult = z.input<TrainerContract['score']['result']>;

async function train(s: TrainSettings, backend: string, signal: AbortSignal, send: (m: TrainChunk) => void): Promise<TrainResult> {
  const { model, tokenizer } = modelFromCheckpoint(readCheckpointFileSync(s.baseModelFile));
  const o = s.options;
  const texts = packShortTexts(readDataset(s.datasetFile).map((t) => t.text), o.seqLen, o.heldOut);
  const tooShort = (detail: string) =>
    new ApiError('bad_request', `The chosen texts are too short to hold out a part for evaluation (${detail}; a window is ${o.seqLen + 1} tokens).`, 'Add more text, or choose fewer tokens per window or a larger held-out fraction (Advanced).');
  const chars = texts.reduce((n, t) => n + t.length, 0);
  if (chars * o.heldOut < o.seqLen + 2) throw tooShort(`${chars} characters in all`);
  let started = false;
  const result = await trainLanguageModel({
    model,
    tokenizer,
    texts,
    steps: o.steps,
    batchSize: o.batchSize,
    seqLen: o.seqLen,
    peakLr: o.learningRate,
    warmupSteps: Math.min(50, Math.ceil(o.steps / 10)),
    heldOut: o.heldOut,
    evalEvery: o.evalEvery,
    evalWindows: 16,
    seed: o.seed,
    skipInitialEval: s.heldOutBefore !== null,
    trainable: trainableFilter(o.trainable, model.config.layers),
    checkpointPath: s.checkpointPath,
    checkpointEvery: { seconds: s.checkpointSeconds },
    signal,
    onStart: (info) => {
      if (s.heldOutBefore === null && !Number.isFinite(info.heldOutBefore)) throw tooShort(`${info.heldOutTokens} tokens held out`);
      started = true;
      send({ type: 'started', backend, heldOutBefore: s.heldOutBefore ?? info.heldOutBefore, trainTokens: info.trainTokens, heldOutTokens: info.heldOutTokens });
    },
    onCheckpoint: (_path, step) => send({ type: 'checkpoint', step }),
    onStep: (m) => send({ type: 'step', step: m.step, loss: m.loss, lr: m.lr, tokensPerSecond: m.tokensPerSecond, etaMs: m.etaMs, ...(m.evalLoss !== undefined ? { evalLoss: m.evalLoss } : {}) }),
  });
  if (!started) throw new Error('training did not start');
  if (result.aborted) return { type: 'stopped', step: result.step };
  const heldOutBefore = s.heldOutBefore ?? result.heldOutBefore;
  const meta = { ...s.meta, trained: true, steps: result.step, heldOutBefore, heldOutAfter: result.heldOutAfter } as Record<string, JsonValue>;
  fs.mkdirSync(path.dirname(s.outFile), { recursive: true });
  await prefetch(Object.values(model.params.all)); // webgpu: read asynchronously before the synchronous writer
  await writeCheckpointFile(s.outFile, modelToCheckpoint(model, tokenizer.spec, meta));
  // the checkpoint stays until the core has registered the new version (it removes it then)
  model.dispose();
  return { type: 'done', step: result.step, heldOutBefore, heldOutAfter: result.heldOutAfter };
}

/** Short texts (notes) packed together, so the tail held out of each pack holds a whole window. */
export function packShortTexts(texts: string[], seqLen: number, heldOut: number): string[] {
  const want = Math.ceil((seqLen + 2) / heldOut) * 1.2; // characters (at least one token each)
  const out: string[] = [];
  let pack = '';
  for (const t of texts) {
    if (t.length >= want) out.push(t);
    else {
      pack = pack ? `${pack}\n\n${t}` : t;
      if (pack.length >= want) (out.push(pack), (pack = ''));
    }
  }
  if (pack) out.push(pack);
  return out;
}

/** Surprisal (nats) of every token of the text after its first, read in windows that carry the state. */
async function score(s: ScoreSettings): Promise<ScoreResult> {
  const models: Array<{ file: string; meanSurprisal: number; surprisal: number[] }> = [];
  let tokens = 0;
  for (const file of s.modelFiles) {
    const { model, tokenizer } = modelFromCheckpoint(readCheckpointFileSync(file));
    const ids = tokenizer.encode(s.text).ids;
    tokens = ids.length;
    const surprisal: number[] = [];
    let state: ModelState | null = null;
    const W = 512;
    for (let from = 0; from < ids.length - 1; from += W) {
      const window = ids.slice(from, Math.min(ids.length, from + W + 1));
      const inputs = window.slice(0, -1);
      const x = tf.tensor2d(inputs, [1, inputs.length], 'int32');
      const out = model.forward(x, state);
      x.dispose();
      const nll = tf.tidy(() => {
        const logp = tf.logSoftmax(tf.reshape(out.logits, [inputs.length, -1]));
        const oneHot = tf.oneHot(tf.tensor1d(window.slice(1), 'int32'), logp.shape[1]!);
        return tf.neg(tf.sum(tf.mul(logp, oneHot), 1));
      });
      surprisal.push(...(await nll.data())); // asynchronously: webgpu too
      nll.dispose();
      out.logits.dispose();
      if (state) disposeModelState(state);
      state = out.state;
    }
    models.push({ file, meanSurprisal: surprisal.reduce((a, b) => a + b, 0) / Math.max(1, surprisal.length), surprisal });
    model.dispose();
  }
  return { models, tokens };
}

async function backendFor(force: string | undefined): Promise<string> {
  const warn = console.warn;
  console.warn = () => {}; // tfjs' "install the node backend" banner
  const backend = await selectBackend(force ? { force } : {}).finally(() => (console.warn = warn));
  return backendLabel(backend);
}

const handlers: RpcHandlers<TrainerContract> = {
  train: async (s, { signal, emit }) => train(s, await backendFor(s.backend), signal, emit),
  score: async (s) => {
    await backendFor(s.backend);
    return score(s);
  },
};
serveRpc(messagePort(parentPort!), TrainerContract, handlers, { peer: 'the core' });
