// The default model's recipe, stage 2: `npm run train:answers -- --corpus ../shared/data [options]`.
// Starts from the base stage's checkpoint (models/default/work/base.training, `npm run train:base`)
// and tunes it on questions put exactly as the app asks them (core/training/answer-tuning.ts):
// the loss is on the answer's tokens, and at --context-weight on the rest. Every --replay-every'th
// step instead trains on a window of the base corpus (all its languages): without it, tuning on
// English questions alone took Russian held-out perplexity from 4.35 to 876. Resumable like stage 1:
// stop it and the same command continues. Every run ends by writing the model, its held-out
// perplexity per language (what tuning cost the reading) and its held-out answer loss.
//
// Options: --from MODEL.trd (start from a model file instead of the base stage's checkpoint)
//          --out DIR (models/default) --steps N (2400) --hours H --lr X (1e-3) --examples N (12000)
//          --context-weight W (0.1) --replay-every N (2; 0: never) --replay-seq T (256) --seed S (1)
//          --backend NAME
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SYNC_BACKEND_ORDER, selectBackend, parseBackendName } from '../models/backend.js';
import { decodeCheckpoint } from '../models/checkpoint/format.js';
import { MODEL_FORMAT, modelFromCheckpoint } from '../models/model/io.js';
import { Rng, WindowSampler } from '../models/train/data.js';
import { tokenizeTexts } from '../models/model/train-lm.js';
import { OPTIMIZER_PREFIX, train } from '../models/train/trainer.js';
import type { JsonValue } from '../models/checkpoint/format.js';
import { crossEntropy, type TitansModel } from '../models/model/model.js';
import { heldOutPerLanguage, loadCorpus, recipeArgs, run, stopSignal, writeModel } from './recipe.js';
import { answerTuningExamples, tokenizeExample } from '../core/training/answer-tuning.js';
import { formatDuration } from '../core/cli/format.js';
import { BASE_MODEL_NAME } from '../models/default/default-model.js';

const args = process.argv.slice(2);
const { opt, num, hours } = recipeArgs(args);

const corpusDir = path.resolve(opt('corpus', '../shared/data'));
const outDir = path.resolve(opt('out', 'models/default'));
const workDir = path.join(outDir, 'work');
const baseCheckpoint = path.join(workDir, 'base.training');
const checkpointPath = path.join(workDir, 'answers.training');
const steps = num('steps', 2400);
const peakLr = num('lr', 1e-3);
const count = num('examples', 12000);
const contextWeight = num('context-weight', 0.1, 0);
const replayEvery = num('replay-every', 2, 0);
const replaySeq = num('replay-seq', 256);
const seed = num('seed', 1, 0);
const HELD_OUT = 200; // examples kept aside to measure the answer loss

type Example = { ids: Int32Array; weights: Float32Array; answerFrom: number };
/** a step's batch: one answer example, or a window of the base corpus (replay) */
type Batch = { answer: Example } | { window: tf.Tensor2D };

/** One example per step, in a seeded order that a checkpoint restores. */
class ExampleSampler {
  private rng: Rng;
  private order: number[] = [];
  constructor(private readonly n: number, seed: number) {
    this.rng = new Rng(seed);
  }
  next(): number {
    if (this.order.length === 0) {
      this.order = Array.from({ length: this.n }, (_, i) => i);
      for (let i = this.n - 1; i > 0; i--) {
        const j = this.rng.int(i + 1);
        [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
      }
    }
    return this.order.pop()!;
  }
  getState() {
    return { rng: this.rng.getState(), order: this.order };
  }
  setState(s: { rng: number[]; order: number[] }) {
    this.rng.setState(s.rng);
    this.order = [...s.order];
  }
}

/** Weighted next-token cross-entropy of one example read from the start. */
function weightedLoss(model: TitansModel, ex: Example): tf.Scalar {
  return tf.tidy(() => {
    const T = ex.ids.length - 1;
    const inputs = tf.tensor2d(ex.ids.subarray(0, T), [1, T], 'int32');
    const targets = tf.tensor1d(ex.ids.subarray(1), 'int32');
    const { h } = model.hidden(inputs, null, null);
    return crossEntropy(model.logits(h), targets, model.config.vocabSize, tf.tensor1d(ex.weights));
  });
}

/** Mean loss per answer token over the held-out examples. */
function answerLoss(model: TitansModel, examples: Example[]): number {
  let sum = 0;
  let n = 0;
  for (const ex of examples) {
    const answerOnly = { ...ex, weights: ex.weights.map((_, t) => (t >= ex.answerFrom ? 1 : 0)) };
    const l = weightedLoss(model, answerOnly);
    const k = answerOnly.weights.reduce((a, b) => a + b, 0);
    sum += l.dataSync()[0]! * k;
    n += k;
    l.dispose();
  }
  return sum / n;
}

async function main(): Promise<number> {
  const fromModel = args.includes('--from') ? path.resolve(opt('from', '')) : null;
  if (!fromModel && !fs.existsSync(baseCheckpoint)) {
    console.error(`The base stage's checkpoint ${baseCheckpoint} is missing: run \`npm run train:base\` first (or give --from MODEL.trd).`);
    return 2;
  }
  const corpus = loadCorpus(corpusDir);
  if (!corpus) return 2;
  const backend = await selectBackend(args.includes('--backend') ? { force: parseBackendName(opt('backend', 'wasm')) } : { order: SYNC_BACKEND_ORDER });
  const base = decodeCheckpoint(fs.readFileSync(fromModel ?? baseCheckpoint));
  // --from: a model file (e.g. the PyTorch trainer's model.trd); else the base stage's training
  // checkpoint, whose parameters without its optimizer state are the base model
  const baseStep = fromModel ? Number((base.meta as { steps?: number } | null)?.steps ?? 0) || null : ((base.meta as { training?: { step?: number } } | null)?.training?.step ?? null);
  const { model, tokenizer } = fromModel ? modelFromCheckpoint(base) : modelFromCheckpoint({ ...base, kind: 'model', meta: { format: MODEL_FORMAT }, tensors: base.tensors.filter((t) => !t.name.startsWith(OPTIMIZER_PREFIX)) });
  const englishBooks = corpus.train.filter((t) => t.lang === 'en').map((t) => t.text).join('\n\n');
  const all = answerTuningExamples({ englishBooks, dataDir: corpusDir, count: count + HELD_OUT, seed: 31 }).map((ex) => tokenizeExample(tokenizer, ex, contextWeight, model.config));
  const heldOut = all.slice(0, HELD_OUT);
  const examples = all.slice(HELD_OUT);
  const meanTokens = examples.reduce((n, e) => n + e.ids.length, 0) / examples.length;
  const logFile = path.join(workDir, 'answers-log.jsonl');
  const log = (rec: object) => fs.appendFileSync(logFile, `${JSON.stringify(rec)}\n`);
  const resumed = fs.existsSync(checkpointPath);
  console.log(`Backend: ${backend.name}; from the base stage at step ${baseStep}; ${examples.length} examples (mean ${Math.round(meanTokens)} tokens), ${heldOut.length} held out`);
  const before = resumed ? NaN : answerLoss(model, heldOut);
  if (!resumed) {
    console.log(`held-out answer loss before: ${before.toFixed(3)} nats/token`);
    log({ type: 'start', baseStep, answerLoss: before });
  }

  const signal = stopSignal(hours);
  const sampler = new ExampleSampler(examples.length, seed);
  const replay = replayEvery > 0 ? new WindowSampler({ docs: tokenizeTexts(tokenizer, corpus.train.map((t) => t.text)).filter((d) => d.length > replaySeq), batchSize: 1, seqLen: replaySeq, seed: seed + 1 }) : null;
  const isReplay = (step: number) => replay !== null && step % replayEvery === replayEvery - 1;
  const t0 = Date.now();
  const result = await train<Batch>({
    params: model.params.all,
    loss: (b) => ('answer' in b ? weightedLoss(model, b.answer) : model.loss(b.window)),
    nextBatch: (step) => (isReplay(step) ? { window: replay!.nextTensor() } : { answer: examples[sampler.next()]! }),
    steps,
    schedule: { peakLr, warmupSteps: 100, minLrRatio: 0.1 },
    clip: 1,
    weightDecay: 0.1,
    tokensPerBatch: (b) => ('answer' in b ? b.answer.ids.length : replaySeq),
    evalEvery: 500,
    evalLoss: () => answerLoss(model, heldOut.slice(0, 100)),
    sampler: { getState: () => ({ examples: sampler.getState(), replay: replay?.getState() ?? null }), setState: (s: { examples: never; replay: never }) => (sampler.setState(s.examples), s.replay && replay?.setState(s.replay)) },
    config: model.config as unknown as JsonValue,
    tokenizer: tokenizer.spec as unknown as JsonValue,
    meta: { baseStep },
    checkpointPath,
    checkpointEvery: { seconds: 300 },
    signal,
    onStep: (m) => {
      if (m.evalLoss !== undefined) log({ type: 'eval', step: m.step, answerLoss: m.evalLoss });
      if (m.step % 50 !== 0) return;
      log({ type: 'step', step: m.step, loss: m.loss, lr: m.lr, tokensPerSecond: m.tokensPerSecond });
      const held = m.evalLoss === undefined ? '' : `, held-out answers ${m.evalLoss.toFixed(3)}`;
      console.log(`step ${m.step}/${steps}: loss ${m.loss.toFixed(3)}${held}, ${m.tokensPerSecond.toFixed(0)} tok/s, ${formatDuration(m.etaMs / 1000)} left`);
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  log({ type: 'run', fromStep: result.startStep, toStep: result.step, seconds, backend: backend.name });
  const after = answerLoss(model, heldOut);
  const perLanguage = await heldOutPerLanguage(model, tokenizer, corpus, 512, 1);
  const runs = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; seconds?: number; answerLoss?: number });
  const baseMetrics = JSON.parse(fs.readFileSync(path.join(outDir, 'metrics.json'), 'utf8')) as Record<string, JsonValue> & { base?: Record<string, JsonValue> };
  const baseStage = baseMetrics.base ?? baseMetrics; // the base stage's own numbers, kept once
  const answerSteps = result.step - (replay ? Math.floor(result.step / replayEvery) : 0);
  const answerStage = {
    recipe: 'npm run train:answers',
    steps: result.step,
    trainingTokens: Math.round(answerSteps * meanTokens + (result.step - answerSteps) * replaySeq),
    trainingSeconds: Math.round(runs.filter((r) => r.type === 'run').reduce((s, r) => s + (r.seconds ?? 0), 0)),
    examples: examples.length,
    contextWeight,
    replayEvery,
    replaySeq,
    peakLr,
    heldOutAnswerLoss: { before: runs.find((r) => r.type === 'start')?.answerLoss ?? before, after },
  };
  const meta = { name: BASE_MODEL_NAME, trained: true, recipe: 'npm run train:base, then npm run train:answers', steps: (baseStep ?? 0) + result.step, heldOut: perLanguage, answerTuning: answerStage };
  console.log(`\n${result.aborted ? 'Stopped' : 'Finished'} at step ${result.step}/${steps} (${formatDuration(seconds)} this run).`);
  console.log(`held-out answer loss: ${answerStage.heldOutAnswerLoss.before.toFixed(3)} -> ${after.toFixed(3)} nats/token`);
  const metrics = { parameters: model.parameterCount, config: model.config, backend: backend.name, base: baseStage, finished: !result.aborted && result.step >= steps };
  await writeModel({ outDir, model, tokenizer, meta, metrics, perLanguage, before: (baseStage.heldOut ?? {}) as Record<string, { perplexity: number }>, aborted: result.aborted });
  model.dispose();
  return 0;
}

run(main);
