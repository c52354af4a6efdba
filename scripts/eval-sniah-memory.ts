// `npm run eval -- sniah-memory [--ks 0,1,2,4,8,16] [--n 20] [--model F] [--backend NAME] [--out DIR]`:
// S-NIAH as the Titans paper runs it, with the model alone: no retrieval, no passages, free greedy
// decoding. The model reads book text (a held-out English book, as the harness uses), the needle,
// then k attention segments of book text, then the question, all through its state: for MAC the
// question's segment can see the needle only through the neural memory once k >= 1. Accuracy by k:
// the answer is right when the generated text holds the magic number. With --no-memory the same
// samples are read with the memory switched off (the baseline the memory must beat).
import fs from 'node:fs';
import path from 'node:path';
import { SYNC_BACKEND_ORDER, selectBackend } from '../models/backend.js';
import { decodeCheckpoint } from '../models/checkpoint/format.js';
import { attentionSegment } from '../models/model/config.js';
import { generate } from '../models/model/generate.js';
import { modelFromCheckpoint } from '../models/model/io.js';
import { disposeModelState } from '../models/model/state.js';
import { withoutMemory } from '../models/model/token-loss.js';
import { randomSource } from '../models/util/random.js';
import { evaluationHaystackBooks } from '../core/training/base-corpus.js';
import { shippedModelFile } from '../models/default/default-model.js';

export async function evalSniahMemory(argv: string[], dataDir: string): Promise<number> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const ks = opt('ks', '0,1,2,4,8,16').split(',').map(Number);
  const n = Number(opt('n', '20'));
  const seed = Number(opt('seed', '7'));
  const modelFile = argv.includes('--model') ? path.resolve(opt('model', '')) : shippedModelFile();
  if (!modelFile) {
    console.error('No model: the default model is missing from models/default/, or give --model FILE.');
    return 2;
  }
  const backend = await selectBackend(argv.includes('--backend') ? { force: opt('backend', 'wasm') } : { order: SYNC_BACKEND_ORDER });
  const { model: full, tokenizer, meta } = modelFromCheckpoint(decodeCheckpoint(fs.readFileSync(modelFile)));
  const noMemory = argv.includes('--no-memory');
  const model = noMemory ? withoutMemory(full) : full;
  const segment = attentionSegment(full.config) ?? full.config.window;
  const book = evaluationHaystackBooks(dataDir).map((b) => b.text).join('\n\n').replace(/\s+/g, ' ');
  const words = (f: string) => fs.readFileSync(path.join(dataDir, 'ruler', f), 'utf8').split('\n').map((w) => w.trim()).filter(Boolean);
  const adjectives = words('wonderwords_adjectivelist.txt');
  const nouns = words('wonderwords_nounlist.txt');
  const next = randomSource(seed);
  const enc = (s: string) => Array.from(tokenizer.encode(s).ids);
  /** `count` tokens of book text from a seeded place */
  const filler = (count: number) => {
    const from = Math.floor(next() * (book.length - count * 8));
    return enc(book.slice(from, from + count * 8)).slice(0, count);
  };
  const rows: Array<{ k: number; n: number; accuracy: number }> = [];
  const samples: Array<{ k: number; expected: string; answer: string; right: boolean }> = [];
  const stop = enc('\n');
  const t0 = Date.now();
  for (const k of ks) {
    let right = 0;
    for (let i = 0; i < n; i++) {
      const key = `${adjectives[Math.floor(next() * adjectives.length)]}-${nouns[Math.floor(next() * nouns.length)]}`;
      const number = String(1_000_000 + Math.floor(next() * 9_000_000));
      const prompt = [
        ...filler(2 * segment),
        ...enc(` One of the special magic numbers for ${key} is: ${number}. `),
        ...filler(k * segment),
        ...enc(`\nQuestion: What is the special magic number for ${key} mentioned in the provided text?\nAnswer: `),
      ];
      const out: number[] = [];
      const it = generate(model, prompt, { maxTokens: 12, stop });
      let r = await it.next();
      while (!r.done) {
        out.push(r.value);
        r = await it.next();
      }
      if (r.value) disposeModelState(r.value);
      const answer = tokenizer.decode(out).trim();
      const ok = answer.includes(number);
      if (ok) right++;
      samples.push({ k, expected: number, answer, right: ok });
      process.stderr.write(`\rk=${k}: ${i + 1}/${n}   `);
    }
    rows.push({ k, n, accuracy: right / n });
  }
  process.stderr.write('\n');
  const name = String(meta.name ?? path.basename(modelFile));
  console.log(`\nS-NIAH, the model alone (no retrieval, free greedy decoding, needle read through the state), ${name}${noMemory ? ', memory OFF' : ''}, segment ${segment} tokens, ${backend.name}, seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  console.log('| k (segments between needle and question) | n | accuracy |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.k} | ${r.n} | ${(r.accuracy * 100).toFixed(0)}% |`);
  const outDir = path.resolve(opt('out', 'eval-results'));
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `sniah-memory${noMemory ? '-off' : ''}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ task: 'sniah-memory', model: { file: modelFile, name }, memory: !noMemory, segment, seed, rows, samples }, null, 2)}\n`);
  console.log(`\nWritten: ${file}`);
  full.dispose();
  return 0;
}
