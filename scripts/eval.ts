// `npm run eval -- <task>`: the evaluation harness. Prints a table and writes JSON.
//   perplexity FILE...  bits/byte with and without the memory, by decile, beside gzip and brotli
//              (scripts/eval-perplexity.ts)
//   sniah-memory  S-NIAH with the model alone, the needle k segments back (scripts/eval-sniah-memory.ts)
//   fairytaleqa   the sentence that answers FairytaleQA's questions, through the app's API, with
//              the BM25 baseline and the ablations (scripts/eval-fairytaleqa.ts; --data DIR is
//              the FairytaleQA folder, default ../shared/data/qa/fairytaleqa; --split val|train; --n STORIES)
//   sniah      RULER-style single needle (keys from the RULER word lists) in noise or book text
//   babilong   bAbI qa1-qa5 facts hidden in book text, by length
// Options: --data DIR (default ../shared/data)  --lengths 2000,4000,8000,16000  --n 20 (per length)
//          --haystack noise|book (sniah)  --tasks qa1,qa2,qa3,qa4,qa5 (babilong)  --seed 7  --out eval-results
//          --answer: read every sample into the model's memory and have the model answer (exact
//          match), through the app's own API  --model FILE (default: the installed default model)
//          --backend NAME  --no-memory (answer from a fresh state: what the book's memory adds)
//          --free (let the model write anything, not only spans of its passages: what copying adds)
//          --rerank (the model also scores the best passages with the book's memory loaded)
// Without --answer: retrieval recall@k only (FTS5 BM25 within the document; no model needed).
// With it: exact-match accuracy, recall@k of the cited passages, the median first-token latency,
// time per question and reading speed, with the model, its size and the backend.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluationHaystackBooks } from '../core/training/base-corpus.js';
import { babilongSamples, evaluateRetrieval, parseBabi, splitStories, sniahSamples, summarizeResults, type Sample } from '../core/ask/eval.js';
import { openDatabase } from '../core/library/database.js';
import { evaluateAnswers, summarizeAnswers } from './eval-answers.js';
import { evalPerplexity } from './eval-perplexity.js';
import { evalSniahMemory } from './eval-sniah-memory.js';
import { evalFairytaleQA } from './eval-fairytaleqa.js';

const argv = process.argv.slice(2);
const task = argv[0];
const opt = (name: string, fallback: string) => argv.find((_, i) => argv[i - 1] === `--${name}`) ?? fallback;
const dataDir = path.resolve(opt('data', path.join(import.meta.dirname, '../../shared/data')));
const lengths = opt('lengths', '2000,4000,8000,16000').split(',').map(Number);
const n = Number(opt('n', '20'));
const seed = Number(opt('seed', '7'));
const outDir = path.resolve(opt('out', 'eval-results'));
const KS = [1, 5];

function need(file: string): string {
  const p = path.join(dataDir, file);
  if (!fs.existsSync(p)) {
    console.error(`The corpus file ${p} is missing. Give the data folder with --data DIR (see ../shared/data/README.md).`);
    process.exit(2);
  }
  return fs.readFileSync(p, 'utf8');
}

/** The English books the harness hides its tasks in (held out of the base model's training). */
function books(): string {
  need('books/gitenberg_manifest.json');
  return evaluationHaystackBooks(dataDir).map((b) => b.text).join('\n\n');
}

async function main(): Promise<void> {
  if (task === 'perplexity') process.exit(await evalPerplexity(argv.slice(1)));
  if (task === 'sniah-memory') process.exit(await evalSniahMemory(argv.slice(1), dataDir));
  if (task === 'fairytaleqa') process.exit(await evalFairytaleQA(argv.slice(1), path.join(import.meta.dirname, '../../shared/data/qa/fairytaleqa')));
  let samples: Sample[];
  if (task === 'sniah') {
    const words = (f: string) => need(`ruler/${f}`).split('\n').map((w) => w.trim()).filter(Boolean);
    const book = opt('haystack', 'noise') === 'book' ? books() : null;
    samples = sniahSamples({ lengths, perLength: n, adjectives: words('wonderwords_adjectivelist.txt'), nouns: words('wonderwords_nounlist.txt'), book, seed });
  } else if (task === 'babilong') {
    const book = books();
    const files = fs.readdirSync(path.join(dataDir, 'babi/en-10k'));
    samples = opt('tasks', 'qa1,qa2,qa3,qa4,qa5')
      .split(',')
      .flatMap((qa, i) => {
        const file = files.find((f) => f.startsWith(`${qa}_`));
        if (!file) {
          console.error(`${qa}: not in ${dataDir}/babi/en-10k (qa3 is not shipped); skipped.`);
          return [];
        }
        return babilongSamples({ task: qa, stories: splitStories(parseBabi(need(`babi/en-10k/${file}`))).heldOut, lengths, perLength: n, book, seed: seed + i });
      });
  } else {
    console.error('Usage: npm run eval -- perplexity FILE... [--model F] | sniah-memory [--ks 0,1,2,4] | fairytaleqa [--data DIR] [--split val|train|NAME] [--model F] [--n STORIES] | sniah|babilong [--data DIR] [--lengths 2000,4000,8000,16000] [--n 20] [--haystack noise|book] [--tasks qa1,qa2,qa4,qa5] [--answer [--model FILE] [--no-memory] [--free] [--rerank]]');
    process.exit(2);
  }

  if (argv.includes('--answer')) return answerRun(samples);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-eval-'));
  const db = openDatabase(path.join(work, 'library.sqlite'));
  try {
    const rows: Array<Record<string, string | number>> = [];
    for (const t of [...new Set(samples.map((s) => s.task))]) {
      const results = await evaluateRetrieval(db, work, samples.filter((s) => s.task === t), KS);
      for (const r of summarizeResults(results, KS)) rows.push({ task: t, length: r.length, n: r.n, 'recall@1': r.recall[1]!, 'recall@5': r.recall[5]!, 'ms/question': Number(r.msPerQuestion.toFixed(1)) });
    }
    console.log(`\n${task}: retrieval recall@k (FTS5 BM25 within the document; no model: exact-match answers need generation), seed ${seed}, ${os.cpus().length} cores\n`);
    console.log('| task | length (chars = byte tokens) | n | recall@1 | recall@5 | ms/question |\n|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.task} | ${r.length} | ${r.n} | ${(Number(r['recall@1']) * 100).toFixed(0)}% | ${(Number(r['recall@5']) * 100).toFixed(0)}% | ${r['ms/question']} |`);
    fs.mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, `${task}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(out, JSON.stringify({ task, seed, lengths, n, retrieval: 'fts5-bm25', model: null, rows }, null, 2));
    console.log(`\nWritten: ${out}`);
  } finally {
    db.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function answerRun(samples: Sample[]): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-eval-'));
  const modelFile = argv.includes('--model') ? path.resolve(opt('model', '')) : undefined;
  const backend = argv.includes('--backend') ? opt('backend', 'wasm') : undefined;
  const decoding = argv.includes('--free') ? 'free' : 'copy';
  try {
    const t0 = Date.now();
    const run = await evaluateAnswers(samples, KS, {
      workDir: work,
      ...(modelFile ? { modelFile } : {}),
      ...(backend ? { backend } : {}),
      memory: !argv.includes('--no-memory'),
      decoding,
      rerank: argv.includes('--rerank'),
      onResult: (r, i) => process.stderr.write(`\r${i + 1}/${samples.length} ${r.task} ${r.length}: ${r.correct ? 'right' : 'wrong'} (“${r.answer.slice(0, 20)}” vs “${r.expected}”)        `),
    });
    process.stderr.write('\n');
    const rows = summarizeAnswers(run.results, KS);
    const m = run.model;
    console.log(`\n${task}: answers by ${m.name}${argv.includes('--no-memory') ? ' WITHOUT the books\' memories (ablation)' : ''}, ${decoding === 'copy' ? 'decoding kept to spans of the passages' : 'free decoding'}${argv.includes('--rerank') ? ', passages reranked by the model' : ''} (${(m.parameters / 1e6).toFixed(2)}M parameters${m.trained ? '' : ', untrained'}), ${run.backend} backend, ${os.cpus().length} cores, seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    console.log('| task | length (byte tokens) | n | accuracy (exact match) | recall@1 | recall@5 | first token (median) | s/question | reading tokens/s |\n|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.task} | ${r.length} | ${r.n} | ${(r.accuracy * 100).toFixed(0)}% | ${(r.recall[1]! * 100).toFixed(0)}% | ${(r.recall[5]! * 100).toFixed(0)}% | ${r.firstTokenMs === null ? '–' : `${(r.firstTokenMs / 1000).toFixed(2)} s`} | ${(r.msPerQuestion / 1000).toFixed(2)} | ${Math.round(r.readTokensPerSecond)} |`);
    fs.mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, `${task}-answers-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(out, JSON.stringify({ task, seed, lengths, n, memory: !argv.includes('--no-memory'), decoding, rerank: argv.includes('--rerank'), model: run.model, backend: run.backend, rows, results: run.results }, null, 2));
    console.log(`\nWritten: ${out}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

void main().then(() => process.exit(0));
