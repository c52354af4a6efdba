// The default model's recipe: `npm run train:base -- --corpus ../shared/data [options]`.
// Trains the reader's Titans MAC configuration (byte-level) on public-domain books in five
// languages mixed with generated needle and bAbI question tasks (core/training/base-corpus.ts),
// on the CPU, resumably: stop it (Ctrl+C, or --hours runs out) and the same command continues
// from the checkpoint. Every run ends by writing the model as it is, its held-out perplexity per
// language and the log, so a partly trained model can already ship.
//
// Options: --out DIR (models/default) --steps N (6000) --hours H (this run's budget)
//          --batch B (1) --seq T (512) --lr X (2e-3) --seed S (1) --backend NAME
import fs from 'node:fs';
import path from 'node:path';
import { SYNC_BACKEND_ORDER, selectBackend, parseBackendName } from '../models/backend.js';
import { TitansModel } from '../models/model/model.js';
import { trainLanguageModel } from '../models/model/train-lm.js';
import { ByteTokenizer } from '../models/tokenizer/index.js';
import { defaultReaderConfig } from '../core/reading/reader-model.js';
import { heldOutPerLanguage, loadCorpus, recipeArgs, run, stopSignal, writeModel } from './recipe.js';
import { formatDuration } from '../core/cli/format.js';
import { BASE_MODEL_NAME } from '../models/default/default-model.js';

const args = process.argv.slice(2);
const { opt, num, hours } = recipeArgs(args);

const corpusDir = path.resolve(opt('corpus', '../shared/data'));
const outDir = path.resolve(opt('out', 'models/default'));
const workDir = path.join(outDir, 'work'); // checkpoint and log: not shipped (gitignored)
const steps = num('steps', 6000);
const batchSize = num('batch', 1);
const seqLen = num('seq', 512);
const peakLr = num('lr', 2e-3);
const seed = num('seed', 1);

async function main(): Promise<number> {
  const corpus = loadCorpus(corpusDir);
  if (!corpus) return 2;
  fs.mkdirSync(workDir, { recursive: true });
  const backend = await selectBackend(args.includes('--backend') ? { force: parseBackendName(opt('backend', 'wasm')) } : { order: SYNC_BACKEND_ORDER });
  const tokenizer = new ByteTokenizer();
  const config = defaultReaderConfig();
  const model = new TitansModel(config, { seed });
  const logFile = path.join(workDir, 'log.jsonl');
  const previous = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seconds?: number; type: string }) : [];
  const secondsBefore = previous.filter((r) => r.type === 'run').reduce((s, r) => s + (r.seconds ?? 0), 0);
  const log = (rec: object) => fs.appendFileSync(logFile, `${JSON.stringify(rec)}\n`);
  console.log(`Backend: ${backend.name} (${backend.threads} thread${backend.threads === 1 ? '' : 's'})`);
  console.log(`Model: MAC d${config.dim} x${config.layers}, ${(model.parameterCount / 1e6).toFixed(2)}M parameters, byte-level`);
  console.log(`Training text: ${Object.entries(corpus.trainBytes).map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)} MB`).join(', ')}`);

  const signal = stopSignal(hours);
  const heldOutMix = Object.values(corpus.heldOut).map((texts) => texts.join('\n\n').slice(0, 200_000));
  const t0 = Date.now();
  const result = await trainLanguageModel({
    model,
    tokenizer,
    texts: corpus.train.map((t) => t.text),
    heldOutTexts: heldOutMix,
    skipInitialEval: previous.length > 0,
    steps,
    batchSize,
    seqLen,
    peakLr,
    warmupSteps: 300,
    evalEvery: 500,
    evalWindows: 24,
    seed,
    checkpointPath: path.join(workDir, 'base.training'),
    checkpointEvery: { seconds: 300 },
    signal,
    onStep: (m) => {
      if (m.evalLoss !== undefined) log({ type: 'eval', step: m.step, loss: m.evalLoss });
      if (m.step % 50 !== 0) return;
      log({ type: 'step', step: m.step, loss: m.loss, lr: m.lr, tokensPerSecond: m.tokensPerSecond });
      const held = m.evalLoss === undefined ? '' : `, held-out ${m.evalLoss.toFixed(3)}`;
      console.log(`step ${m.step}/${steps}: loss ${m.loss.toFixed(3)}${held}, ${m.tokensPerSecond.toFixed(0)} tok/s, ${formatDuration(m.etaMs / 1000)} left`);
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  log({ type: 'run', fromStep: result.startStep, toStep: result.step, seconds, backend: backend.name });

  // Held-out perplexity per language (nats per byte), the same windows every run.
  const perLanguage = await heldOutPerLanguage(model, tokenizer, corpus, seqLen, batchSize);
  const totalSeconds = secondsBefore + seconds;
  const tokens = result.step * batchSize * seqLen;
  const meta = {
    name: BASE_MODEL_NAME,
    trained: true,
    recipe: 'npm run train:base',
    steps: result.step,
    trainingTokens: tokens,
    trainingSeconds: Math.round(totalSeconds),
    trainBytes: corpus.trainBytes,
    heldOut: perLanguage,
  };
  console.log(`\n${result.aborted ? 'Stopped' : 'Finished'} at step ${result.step}/${steps} (${(tokens / 1e6).toFixed(2)}M tokens, ${formatDuration(totalSeconds)} in all).`);
  const metrics = { parameters: model.parameterCount, config, batchSize, seqLen, peakLr, backend: backend.name, finished: !result.aborted && result.step >= steps };
  await writeModel({ outDir, model, tokenizer, meta, metrics, perLanguage, aborted: result.aborted });
  model.dispose();
  return 0;
}

run(main);
