// What the default model's two recipe stages (train-base.ts, train-answers.ts) share: their
// options, the corpus (or a clear message when it is missing), stopping on Ctrl+C or after --hours
// with the checkpoint kept, and the held-out perplexity per language every run ends with.
import fs from 'node:fs';
import path from 'node:path';
import { writeCheckpointFile } from '../models/checkpoint/format.js';
import { modelToCheckpoint } from '../models/model/io.js';
import { heldOutLoss, tokenizeTexts } from '../models/model/train-lm.js';
import type { TitansModel } from '../models/model/model.js';
import type { Tokenizer } from '../models/tokenizer/index.js';
import { buildBaseCorpus, CorpusMissingError, type BaseCorpus } from '../core/training/base-corpus.js';
import { BASE_MODEL_FILE } from '../models/default/default-model.js';
import { pinDefaultModel } from './pin-default-model.js';

export function recipeArgs(args: string[]) {
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
  };
  /** a number of at least `min` (most options must be positive; a few may be 0) */
  const num = (name: string, fallback: number, min = Number.MIN_VALUE) => {
    const n = Number(opt(name, String(fallback)));
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number of at least ${min === Number.MIN_VALUE ? 'more than 0' : min}`);
    return n;
  };
  return { opt, num, hours: Number(opt('hours', 'Infinity')) };
}

/** The base corpus, or null after saying which file is missing. */
export function loadCorpus(corpusDir: string): BaseCorpus | null {
  try {
    return buildBaseCorpus(corpusDir, { seed: 11 });
  } catch (e) {
    if (e instanceof CorpusMissingError) {
      console.error(e.message);
      return null;
    }
    throw e;
  }
}

/** Aborted on the first Ctrl+C (the step finishes and the checkpoint is written) or after `hours`. */
export function stopSignal(hours: number): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.log('\nStopping after this step; the checkpoint keeps the progress.');
    controller.abort();
  });
  if (Number.isFinite(hours)) setTimeout(() => controller.abort(), hours * 3600_000).unref();
  return controller.signal;
}

/** Held-out loss per byte and perplexity for each language of the corpus (the same windows every run). */
export async function heldOutPerLanguage(model: TitansModel, tokenizer: Tokenizer, corpus: BaseCorpus, seqLen: number, batchSize: number): Promise<Record<string, { lossPerByte: number; perplexity: number }>> {
  const out: Record<string, { lossPerByte: number; perplexity: number }> = {};
  for (const [lang, texts] of Object.entries(corpus.heldOut)) {
    const loss = await heldOutLoss(model, tokenizeTexts(tokenizer, texts), seqLen, batchSize, 48);
    out[lang] = { lossPerByte: loss, perplexity: Math.exp(loss) };
  }
  return out;
}

/** Write the model and metrics.json, then print the held-out table (beside an earlier one when given). */
export async function writeModel(o: { outDir: string; model: TitansModel; tokenizer: Tokenizer; meta: Record<string, unknown>; metrics: Record<string, unknown>; perLanguage: Record<string, { lossPerByte: number; perplexity: number }>; before?: Record<string, { perplexity: number }>; aborted: boolean }): Promise<void> {
  const file = path.join(o.outDir, BASE_MODEL_FILE);
  await writeCheckpointFile(file, modelToCheckpoint(o.model, o.tokenizer.spec, o.meta as never));
  // the default model's folder: store it as float16 (checked) and pin it (models/default/model.json)
  if (fs.existsSync(path.join(o.outDir, 'check.txt'))) pinDefaultModel({ file, float16: true });
  fs.writeFileSync(path.join(o.outDir, 'metrics.json'), `${JSON.stringify({ ...o.meta, ...o.metrics }, null, 2)}\n`);
  console.log(`held-out   nats/byte   perplexity${o.before ? '   (before)' : ''}`);
  for (const [lang, r] of Object.entries(o.perLanguage)) {
    const before = o.before ? `   ${o.before[lang]?.perplexity.toFixed(2) ?? '-'}` : '';
    console.log(`${lang.padEnd(10)} ${r.lossPerByte.toFixed(3).padStart(9)}   ${r.perplexity.toFixed(2).padStart(10)}${before}`);
  }
  console.log(`Model written to ${file}${o.aborted ? '; run the same command again to continue' : ''}.`);
}

/** Run a script's main and exit with its code (an error: printed, code 1). */
export function run(main: () => Promise<number>): void {
  main().then((code) => process.exit(code), (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
