// The base recipe's corpus split, for trainers outside the app (train/torch reads it):
//   npx tsx scripts/export-corpus.ts [--corpus ../shared/data] [--out train/torch/corpus] [--gzip]
//                                    [--max-bytes-per-language N] [--seed 11]
// The texts are exactly what `npm run train:base` trains and evaluates on (buildBaseCorpus of
// core/training/base-corpus.ts with the recipe's seed 11): the same books, cut the same way, the
// same generated tasks, and the same held-out texts. Written as JSON lines (gzipped with --gzip):
//   train.jsonl        {"source", "lang", "text"} per training text
//   heldout.jsonl      {"lang", "text"} per held-out text (the final per-language evaluation)
//   heldout-mix.jsonl  {"lang", "text"}: per language its held-out texts joined by a blank line and
//                      cut to 200,000 characters (what scripts/train-base.ts evaluates while training)
//   meta.json          the options, byte counts, and where it came from
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildBaseCorpus, CorpusMissingError } from '../core/training/base-corpus.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};

function main(): number {
  const corpusDir = path.resolve(opt('corpus', '../shared/data'));
  const outDir = path.resolve(opt('out', 'train/torch/corpus'));
  const seed = Number(opt('seed', '11'));
  const maxBytes = Number(opt('max-bytes-per-language', '8000000'));
  const gzip = args.includes('--gzip');
  let corpus;
  try {
    corpus = buildBaseCorpus(corpusDir, { seed, maxBytesPerLanguage: maxBytes });
  } catch (e) {
    if (e instanceof CorpusMissingError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const write = (name: string, rows: object[]) => {
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const file = path.join(outDir, gzip ? `${name}.gz` : name);
    for (const other of [path.join(outDir, name), path.join(outDir, `${name}.gz`)]) if (other !== file) fs.rmSync(other, { force: true });
    const bytes = gzip ? gzipSync(text, { level: 9 }) : Buffer.from(text, 'utf8');
    fs.writeFileSync(file, bytes);
    return bytes.length;
  };
  let total = 0;
  total += write('train.jsonl', corpus.train.map((t) => ({ source: t.source, lang: t.lang, text: t.text })));
  total += write('heldout.jsonl', Object.entries(corpus.heldOut).flatMap(([lang, texts]) => texts.map((text) => ({ lang, text }))));
  // scripts/train-base.ts: Object.values(corpus.heldOut).map((texts) => texts.join('\n\n').slice(0, 200_000))
  total += write('heldout-mix.jsonl', Object.entries(corpus.heldOut).map(([lang, texts]) => ({ lang, text: texts.join('\n\n').slice(0, 200_000) })));
  const meta = {
    from: 'scripts/export-corpus.ts (buildBaseCorpus of core/training/base-corpus.ts)',
    corpus: corpusDir,
    seed,
    maxBytesPerLanguage: maxBytes,
    trainTexts: corpus.train.length,
    trainBytes: corpus.trainBytes,
    heldOutTexts: Object.fromEntries(Object.entries(corpus.heldOut).map(([k, v]) => [k, v.length])),
    heldOutChars: Object.fromEntries(Object.entries(corpus.heldOut).map(([k, v]) => [k, v.reduce((n, t) => n + t.length, 0)])),
    gzip,
  };
  fs.writeFileSync(path.join(outDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  console.log(`${corpus.train.length} training texts (${Object.entries(corpus.trainBytes).map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)} MB`).join(', ')}), held out: ${Object.keys(corpus.heldOut).join(', ')}`);
  console.log(`wrote ${(total / 1024 / 1024).toFixed(1)} MiB to ${outDir}`);
  return 0;
}

process.exit(main());
