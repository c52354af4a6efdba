// Answer-tuning examples for trainers outside the app (train/torch reads them with --answers):
//   npx tsx scripts/export-answers.ts --model MODEL.trd --out ANSWERS.jsonl
//        [--corpus ../shared/data] [--count 12000] [--held-out 200] [--context-weight 0.1] [--seed 31]
// The questions are put exactly as the app puts them and tokenized by the model's own tokenizer,
// the prompt padded to the model's attention segment as the app pads it (tokenizeExample of
// core/training/answer-tuning.ts, the same examples `npm run train:answers` tunes on, from
// training text only). MODEL.trd gives the tokenizer and the segment; for a PyTorch run in
// progress, `python -m train.torch.export --ckpt RUN/train.pt --out MODEL.trd` writes one.
// One JSON line per example: {"split": "train" | "heldout", "task", "ids", "weights", "answerFrom"},
// where weights[t] belongs to predicting ids[t + 1] (1 on the answer, --context-weight on the prompt).
import fs from 'node:fs';
import path from 'node:path';
import { decodeCheckpoint } from '../models/checkpoint/format.js';
import { attentionSegment, type ModelConfig } from '../models/model/config.js';
import { tokenizerFromSpec, type TokenizerSpec } from '../models/tokenizer/index.js';
import { answerTuningExamples, tokenizeExample } from '../core/training/answer-tuning.js';
import { loadCorpus, recipeArgs } from './recipe.js';

const args = process.argv.slice(2);
const { opt, num } = recipeArgs(args);

function main(): number {
  const modelFile = opt('model', '');
  const out = opt('out', '');
  if (!modelFile || !out) {
    console.error('usage: npx tsx scripts/export-answers.ts --model MODEL.trd --out ANSWERS.jsonl [--corpus DIR] [--count N] [--held-out N]');
    return 2;
  }
  const c = decodeCheckpoint(fs.readFileSync(path.resolve(modelFile)));
  const tokenizer = tokenizerFromSpec(c.tokenizer as unknown as TokenizerSpec);
  const config = c.config as unknown as ModelConfig;
  const segment = attentionSegment(config); // for the log line only
  const corpus = loadCorpus(path.resolve(opt('corpus', '../shared/data')));
  if (!corpus) return 2;
  const count = num('count', 12000);
  const heldOut = num('held-out', 200, 0);
  const contextWeight = num('context-weight', 0.1, 0);
  const englishBooks = corpus.train.filter((t) => t.lang === 'en').map((t) => t.text).join('\n\n');
  const examples = answerTuningExamples({ englishBooks, dataDir: path.resolve(opt('corpus', '../shared/data')), count: count + heldOut, seed: num('seed', 31, 0) });
  const lines = examples.map((ex, i) => {
    const { ids, weights, answerFrom } = tokenizeExample(tokenizer, ex, contextWeight, config);
    return JSON.stringify({ split: i < heldOut ? 'heldout' : 'train', task: ex.task, ids: Array.from(ids), weights: Array.from(weights, (w) => Math.round(w * 1e6) / 1e6), answerFrom });
  });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, `${lines.join('\n')}\n`);
  const tokens = lines.reduce((n, l) => n + (JSON.parse(l) as { ids: number[] }).ids.length, 0);
  console.log(`wrote ${examples.length} examples (${heldOut} held out), ${tokens.toLocaleString('en')} tokens (mean ${Math.round(tokens / examples.length)}), segment ${segment}, to ${out}`);
  return 0;
}

process.exitCode = main();
