// Train a byte-level BPE tokenizer on the base recipe's training texts and write it as a model
// file, so trainers can take it (`python -m train.torch.train --tokenizer-from OUT.trd`):
//   npx tsx scripts/train-tokenizer.ts --merges 4096 --out runs/tok/bpe4k.trd
//                                      [--data train/torch/corpus] [--sample-bytes 24000000]
// --data is a folder written by scripts/export-corpus.ts. The sample takes a share of bytes from
// every language in the export's order: English, what most books read here are in and what the
// model is judged on, three shares, every other language one (so Russian, 18 MB of the corpus at
// two bytes a letter, does not crowd out the rest). The model in the file is an untrained reader-shaped MAC with the new vocabulary:
// only its tokenizer section is meant to be used. It prints bytes per token per language on the
// held-out texts, which is what a larger vocabulary buys.
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeCheckpointFile } from '../models/checkpoint/format.js';
import { defaultReaderConfig } from '../core/reading/reader-model.js';
import { modelToCheckpoint } from '../models/model/io.js';
import { TitansModel } from '../models/model/model.js';
import { trainBpe } from '../models/tokenizer/index.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback?: string): string => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? args[i + 1] : undefined;
  if (v !== undefined) return v;
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
};

function readJsonl(dir: string, name: string): Array<{ lang: string; text: string }> {
  const plain = path.join(dir, name);
  const raw = fs.existsSync(plain) ? fs.readFileSync(plain, 'utf8') : gunzipSync(fs.readFileSync(`${plain}.gz`)).toString('utf8');
  return raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { lang: string; text: string });
}

async function main(): Promise<void> {
  const dir = path.resolve(opt('data', 'train/torch/corpus'));
  const merges = Number(opt('merges'));
  const out = path.resolve(opt('out'));
  const sampleBytes = Number(opt('sample-bytes', '24000000'));
  if (!Number.isInteger(merges) || merges < 1) throw new Error('--merges must be a positive integer');

  const train = readJsonl(dir, 'train.jsonl');
  const langs = [...new Set(train.map((t) => t.lang))];
  const weight = (lang: string) => (lang === 'en' ? 3 : 1);
  const unit = sampleBytes / langs.reduce((n, l) => n + weight(l), 0);
  const taken = new Map(langs.map((l) => [l, 0]));
  const sample: string[] = [];
  for (const t of train) {
    const have = taken.get(t.lang)!;
    const share = Math.floor(unit * weight(t.lang));
    if (have >= share) continue;
    const bytes = Buffer.byteLength(t.text, 'utf8');
    const text = have + bytes <= share ? t.text : t.text.slice(0, Math.floor(((share - have) / bytes) * t.text.length));
    sample.push(text);
    taken.set(t.lang, have + Buffer.byteLength(text, 'utf8'));
  }
  console.log(`sample: ${[...taken].map(([l, b]) => `${l} ${(b / 1e6).toFixed(1)} MB`).join(', ')}`);

  const t0 = performance.now();
  const tok = trainBpe(sample, merges);
  console.log(`${tok.vocabSize} tokens (${merges} merges asked) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const held = readJsonl(dir, 'heldout.jsonl');
  for (const lang of [...new Set(held.map((h) => h.lang))]) {
    const texts = held.filter((h) => h.lang === lang).map((h) => h.text.slice(0, 300_000));
    const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
    const tokens = texts.reduce((n, t) => n + tok.encode(t).ids.length, 0);
    console.log(`  held-out ${lang}: ${(bytes / tokens).toFixed(2)} bytes/token`);
  }

  const model = new TitansModel({ ...defaultReaderConfig(), vocabSize: tok.vocabSize }, { seed: 1 });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await writeCheckpointFile(out, modelToCheckpoint(model, tok.spec, { trainedOn: ['(tokenizer only; the model is untrained)'], steps: 0 } as never));
  model.dispose();
  console.log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
