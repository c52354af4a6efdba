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
import { selectBackend, parseBackendName } from '../models/backend.js';
import { writeCheckpointFile } from '../models/checkpoint/format.js';
import { modelToCheckpoint } from '../models/model/io.js';
import { TitansModel } from '../models/model/model.js';
import { heldOutLoss, tokenizeTexts, trainLanguageModel } from '../models/model/train-lm.js';
import { ByteTokenizer } from '../models/tokenizer/index.js';
import { defaultReaderConfig } from '../core/reading/reader-model.js';
import { buildBaseCorpus, CorpusMissingError } from '../core/training/base-corpus.js';
import { formatDuration } from '../core/cli/format.js';
import { BASE_MODEL_FILE, BASE_MODEL_NAME } from '../core/training/default-model.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const num = (name: string, fallback: number) => {
  const n = Number(opt(name, String(fallback)));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};

const corpusDir = path.resolve(opt('corpus', '../shared/data'));
const outDir = path.resolve(opt('out', 'models/default'));
const workDir = path.join(outDir, 'work'); // checkpoint and log: not shipped (gitignored)
const steps = num('steps', 6000);
const hours = Number(opt('hours', 'Infinity'));
const batchSize = num('batch', 1);
const seqLen = num('seq', 512);
const peakLr = num('lr', 2e-3);
const seed = num('seed', 1);

async function main(): Promise<number> {
  let corpus;
  try {
    corpus = buildBaseCorpus(corpusDir, { seed: 11 });
  } catch (e) {
    if (e instanceof CorpusMissingError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  fs.mkdirSync(workDir, { recursive: true });
  const backend = await selectBackend(args.includes('--backend') ? { force: parseBackendName(opt('backend', 'wasm')) } : {});
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

  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.log('\nStopping after this step; the checkpoint keeps the progress.');
    controller.abort();
  });
  if (Number.isFinite(hours)) setTimeout(() => controller.abort(), hours * 3600_000).unref();
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
    signal: controller.signal,
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
  const perLanguage: Record<string, { lossPerByte: number; perplexity: number }> = {};
  for (const [lang, texts] of Object.entries(corpus.heldOut)) {
    const loss = heldOutLoss(model, tokenizeTexts(tokenizer, texts), seqLen, batchSize, 48);
    perLanguage[lang] = { lossPerByte: loss, perplexity: Math.exp(loss) };
  }
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
  await writeCheckpointFile(path.join(outDir, BASE_MODEL_FILE), modelToCheckpoint(model, tokenizer.spec, meta as never));
  fs.writeFileSync(path.join(outDir, 'metrics.json'), `${JSON.stringify({ ...meta, parameters: model.parameterCount, config, batchSize, seqLen, peakLr, backend: backend.name, finished: !result.aborted && result.step >= steps }, null, 2)}\n`);
  console.log(`\n${result.aborted ? 'Stopped' : 'Finished'} at step ${result.step}/${steps} (${(tokens / 1e6).toFixed(2)}M tokens, ${formatDuration(totalSeconds)} in all).`);
  console.log('held-out   nats/byte   perplexity');
  for (const [lang, r] of Object.entries(perLanguage)) console.log(`${lang.padEnd(10)} ${r.lossPerByte.toFixed(3).padStart(9)}   ${r.perplexity.toFixed(2).padStart(10)}`);
  console.log(`Model written to ${path.join(outDir, BASE_MODEL_FILE)}${result.aborted ? '; run the same command again to continue' : ''}.`);
  model.dispose();
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
