// `npm run needle`: proof that the long-term memory remembers. A synthetic needle task whose needle
// sits several segments before the question (beyond MAC's attention, which is segment-local):
//   [noise ... K v noise ...] [noise ...] [noise ...] [noise ... Q] -> v
// Trains MAC, LMM, and MAC with the memory switched off on the same data and time budget, then
// prints their accuracy on held-out sequences (chance = 1 / number of values).
// Usage: npm run needle -- [--minutes 15] [--backend wasm] [--segments 4] [--segment 8] [--only mac,lmm,mac-off]
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../models/backend.js';
import { modelConfig, type Architecture } from '../models/model/config.js';
import { crossEntropy, TitansModel } from '../models/model/model.js';
import { randomSource } from '../models/model/generate.js';
import { setWasmBatchSplit } from '../models/memory/ops.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number | string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : String(fallback);
};
const MINUTES = Number(arg('minutes', 15));
const SEGMENT = Number(arg('segment', 8));
const SEGMENTS = Number(arg('segments', 4));
const BATCH = Number(arg('batch', 16));
const DIM = Number(arg('dim', 32));
const LR = Number(arg('lr', 3e-3));
const ONLY = arg('only', '');
const SEED = Number(arg('seed', 1));

// vocabulary: 0..9 values, 10..29 noise, 30 = K (key marker), 31 = Q (question)
const VALUES = 10;
const NOISE0 = 10;
const NOISE = 20;
const K = 30;
const Q = 31;
const VOCAB = 32;
const LENGTH = SEGMENT * SEGMENTS; // tokens read before the answer

interface Sample {
  ids: number[]; // LENGTH tokens, the last one is Q
  answer: number;
  needleAt: number;
}

function sample(random: () => number): Sample {
  const ids = Array.from({ length: LENGTH }, () => NOISE0 + Math.floor(random() * NOISE));
  const answer = Math.floor(random() * VALUES);
  const needleAt = Math.floor(random() * (SEGMENT - 2)); // inside the first segment
  ids[needleAt] = K;
  ids[needleAt + 1] = answer;
  ids[LENGTH - 1] = Q;
  return { ids, answer, needleAt };
}

function batchOf(samples: Sample[]): { ids: tf.Tensor2D; answers: tf.Tensor1D } {
  return {
    ids: tf.tensor2d(samples.map((s) => s.ids), [samples.length, LENGTH], 'int32'),
    answers: tf.tensor1d(samples.map((s) => s.answer), 'int32'),
  };
}

/** Loss on the answer only: the logits at the question token. */
function answerLogits(model: TitansModel, ids: tf.Tensor2D): tf.Tensor2D {
  const { h } = model.hidden(ids, null, null);
  const [B, T, d] = h.shape as [number, number, number];
  return tf.reshape(model.logits(tf.slice(h, [0, T - 1, 0], [B, 1, d])), [B, VOCAB]) as tf.Tensor2D;
}

function accuracy(model: TitansModel, test: Sample[]): number {
  let correct = 0;
  for (let i = 0; i < test.length; i += 64) {
    const part = test.slice(i, i + 64);
    const { ids, answers } = batchOf(part);
    const pred = tf.tidy(() => tf.argMax(answerLogits(model, ids), 1));
    const p = pred.dataSync();
    part.forEach((s, j) => (correct += p[j] === s.answer ? 1 : 0));
    tf.dispose([ids, answers, pred]);
  }
  return correct / test.length;
}

interface Run {
  name: string;
  arch: Architecture;
  useMemory: boolean;
}

async function main(): Promise<void> {
  const backend = await selectBackend({ force: arg('backend', 'wasm') });
  const all: Run[] = [
    { name: 'MAC', arch: 'mac', useMemory: true },
    { name: 'LMM (memory only)', arch: 'lmm', useMemory: true },
    { name: 'MAC, memory off', arch: 'mac', useMemory: false },
  ];
  const runs = ONLY ? all.filter((r) => ONLY.split(',').includes(r.arch + (r.useMemory ? '' : '-off'))) : all;
  // Many small matmuls: wasm's per-op overhead dominates, so batched products stay batched.
  setWasmBatchSplit(false);
  const testRandom = randomSource(SEED + 1000); // held out: a different stream than training
  const test = Array.from({ length: 512 }, () => sample(testRandom));
  const budgetMs = (MINUTES * 60_000) / runs.length;
  console.log(`Needle task: ${LENGTH} tokens in ${SEGMENTS} segments of ${SEGMENT}; needle in segment 1, question at the end; chance ${(100 / VALUES).toFixed(0)}%.`);
  console.log(`Backend ${backend.name}; ${(budgetMs / 60000).toFixed(1)} min of training per model.`);
  const results: Array<{ run: Run; params: number; steps: number; acc: number; seconds: number; loss: number }> = [];
  for (const run of runs) {
    const config = modelConfig({
      arch: run.arch,
      useMemory: run.useMemory,
      vocabSize: VOCAB,
      dim: DIM,
      layers: 2,
      heads: 4,
      segment: SEGMENT,
      window: SEGMENT,
      persistentTokens: 4,
      memory: { chunkSize: 4, heads: 1, maxLr: 0.5, expansion: 2 },
    });
    const model = new TitansModel(config, { seed: SEED });
    const opt = tf.train.adam(LR);
    const random = randomSource(SEED);
    const vars = Object.values(model.params.all);
    const started = Date.now();
    let steps = 0;
    let ema = Math.log(VOCAB);
    while (Date.now() - started < budgetMs) {
      const { ids, answers } = batchOf(Array.from({ length: BATCH }, () => sample(random)));
      const { value, grads } = tf.variableGrads(() => crossEntropy(answerLogits(model, ids), answers, VOCAB), vars);
      opt.applyGradients(grads as Record<string, tf.Variable>);
      ema = 0.95 * ema + 0.05 * value.dataSync()[0]!;
      tf.dispose([ids, answers, value, ...Object.values(grads)]);
      steps++;
      if (steps % 50 === 0) console.log(`  ${run.name}: step ${steps}, loss ${ema.toFixed(3)}, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    const acc = accuracy(model, test);
    results.push({ run, params: model.parameterCount, steps, acc, seconds: (Date.now() - started) / 1000, loss: ema });
    console.log(`  ${run.name}: held-out accuracy ${(100 * acc).toFixed(1)}% after ${steps} steps`);
    opt.dispose();
    model.dispose();
  }
  console.log('\nmodel                 params  steps  train s  final loss  held-out accuracy');
  for (const r of results) {
    console.log(`${r.run.name.padEnd(20)} ${String(r.params).padStart(7)}  ${String(r.steps).padStart(5)}  ${r.seconds.toFixed(0).padStart(7)}  ${r.loss.toFixed(3).padStart(10)}  ${(100 * r.acc).toFixed(1).padStart(16)}%`);
  }
  console.log(`(chance: ${(100 / VALUES).toFixed(0)}%; ${test.length} held-out sequences; backend ${backend.name})`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
