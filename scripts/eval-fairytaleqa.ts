// `npm run eval -- fairytaleqa [--data DIR] [--split val|train|NAME] [--model F] [--backend NAME] [--n N]
//   [--top 8] [--rerank] [--no-memory] [--no-ablations] [--out DIR]`:
// FairytaleQA through the app. Each story is imported into a fresh library, read into the model's
// memory, and each of its questions is asked through the app's own API (ask.answer). The shown
// sentence (one or two sentences, at most 400 characters) is right when a gold answer's words
// appear in it in order, covering at least 80% of them (core/ask/fairytaleqa.ts). Printed, for
// explicit and implicit questions apart: sentence@1, sentence@3, how often a short answer is
// given, its ROUGE-L F1, the "not found" rate; the plain BM25 sentence ranker over the whole story
// in the same run (the baseline); the ablations (the ranker retrained without a signal, asked
// through the same API); how well the confidence is calibrated. JSON is written too.
// --n N: the first N stories of the split, in name order (a subset while developing).
// --rerank: the model also scores the best sentences with the book's memory loaded (slow on wasm).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInProcessClient } from '../core/api/in-process.js';
import type { AnswerSentence } from '../core/api/contract.js';
import { createCore } from '../core/app.js';
import { loadFairytaleQA, rougeL, sentenceAnswers, type FtqaStory } from '../core/ask/fairytaleqa.js';
import { RANKER, type Ablation } from '../core/ask/answer-sentence.js';
import { display, splitSentences, wordsOf } from '../core/ask/sentences.js';

// the model's signal left out; then the text stage retrained without each group of its features
const ABLATIONS: Ablation[] = ['no-model', 'no-bm25', 'no-passage-rank', 'no-coverage'];

export interface QuestionResult {
  story: string;
  id: string;
  question: string;
  explicit: boolean;
  answers: string[];
  notFound: boolean;
  sentences: string[];
  at1: boolean;
  at3: boolean;
  confidence: number | null;
  modelScored: boolean;
  short: string | null;
  shortConfidence: number | null;
  shortShown: boolean;
  rouge: number | null;
  bm25: string[];
  bm25At1: boolean;
  bm25At3: boolean;
  ablations: Record<string, boolean>;
  ms: number;
}

/** The plain baseline: BM25 over every sentence of the story (no stemming; the question's words but stop words). */
export function bm25Sentences(text: string, question: string, k: number): string[] {
  const pieces = splitSentences(text).map((p) => display(text.slice(p.start, p.end)));
  const docs = pieces.map((p) => wordsOf(p));
  const q = [...new Set(wordsOf(question).filter((w) => !BASELINE_STOP.has(w)))];
  const avg = docs.reduce((a, d) => a + d.length, 0) / Math.max(1, docs.length);
  const df = new Map(q.map((t) => [t, docs.filter((d) => d.includes(t)).length]));
  const scores = docs.map((d, i) => {
    let s = 0;
    for (const t of q) {
      const f = d.filter((w) => w === t).length;
      if (!f) continue;
      const n = df.get(t)!;
      s += Math.log(1 + (docs.length - n + 0.5) / (n + 0.5)) * ((f * 2.2) / (f + 1.2 * (0.25 + (0.75 * d.length) / avg)));
    }
    return { s, i };
  });
  return scores
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, k)
    .map((x) => pieces[x.i]!);
}
// the retrieval's stop words (core/ask/retrieve.ts)
const BASELINE_STOP = new Set('the a an and or of to in on at by for with from is are was were be been it its this that these those what which who whom whose when where why how did does do has have had not no as into than then there their they he she his her him we you your our i me my'.split(' '));

export async function evalFairytaleQA(argv: string[], defaultData: string): Promise<number> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const dataDir = path.resolve(opt('data', defaultData));
  const split = opt('split', 'val');
  if (/^test/i.test(split) && !argv.includes('--allow-test')) {
    console.error('The test split is held out: give --split val (choices and calibration) or train.');
    return 2;
  }
  let stories: FtqaStory[];
  try {
    stories = loadFairytaleQA(dataDir, split);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  if (argv.includes('--n')) stories = stories.slice(0, Number(opt('n', '0')));
  if (stories.length === 0) {
    console.error(`No stories with questions in ${dataDir} (split ${split}).`);
    return 2;
  }
  const top = Number(opt('top', '8'));
  const memory = !argv.includes('--no-memory');
  const rerank = argv.includes('--rerank');
  const ablations = argv.includes('--no-ablations') ? [] : ABLATIONS.filter((a) => a !== 'no-model' || (memory && RANKER.withModel));
  const modelFile = argv.includes('--model') ? path.resolve(opt('model', '')) : undefined;
  const backend = argv.includes('--backend') ? opt('backend', 'wasm') : undefined;
  const outDir = path.resolve(opt('out', 'eval-results'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-ftqa-'));
  const results: QuestionResult[] = [];
  let model: { id: string; name: string; parameters: number; trained: boolean } | null = null;
  let backendName = '';
  let readSeconds = 0;
  let readTokens = 0;
  const t0 = Date.now();
  const total = stories.reduce((a, s) => a + s.questions.length, 0);
  try {
    for (const [si, story] of stories.entries()) {
      // a fresh library for every story
      const core = createCore({ dataDir: path.join(work, `library-${si}`), transport: 'in-process', reading: { ...(modelFile ? { modelFile } : {}), ...(backend ? { backend } : {}) } });
      const api = createInProcessClient(core.server);
      try {
        const file = path.join(work, `${story.name}.txt`);
        fs.writeFileSync(file, story.text);
        const { document } = await api.call('library.importPath', { path: file });
        if (memory) {
          if (!model) {
            const m = await core.reading.model();
            model = { id: m.model.id, name: m.model.name, parameters: m.model.parameters, trained: m.model.trained };
            backendName = m.backend;
          }
          await api.call('reading.start', { id: document.id });
          await core.reading.whenIdle();
          const [status] = await api.call('reading.list', { id: document.id });
          if (status?.status !== 'done') throw new Error(`${story.name} was not read: ${status?.error?.message ?? status?.status}`);
          readSeconds += status.seconds;
          readTokens += status.tokensTotal ?? 0;
        }
        for (const q of story.questions) {
          // the ablations need no memory: with one book, its memory does not reorder its passages,
          // and the text stage does not read it (no recall probe to wait for)
          const ask = (ablation?: Ablation) => api.call('ask.answer', { question: q.question, ids: [document.id], top, memory: memory && !ablation, rerank: rerank && !ablation, modelAnswer: false, ...(ablation ? { ablation } : {}) });
          const ta = performance.now();
          const r = await ask();
          const ms = performance.now() - ta;
          const mine = r.sentences.filter((s) => s.docId === document.id).sort((a, b) => a.rank - b.rank);
          const first: AnswerSentence | undefined = mine[0];
          const span = first?.span ?? null;
          const bm25 = bm25Sentences(story.text, q.question, 3);
          const result: QuestionResult = {
            story: story.name,
            id: q.id,
            question: q.question,
            explicit: q.explicit,
            answers: q.answers,
            notFound: r.notFound,
            sentences: mine.map((s) => s.text),
            at1: first !== undefined && sentenceAnswers(first.text, q.answers),
            at3: mine.slice(0, 3).some((s) => sentenceAnswers(s.text, q.answers)),
            confidence: first?.confidence ?? null,
            modelScored: first?.modelScored ?? false,
            short: span?.text ?? null,
            shortConfidence: span?.confidence ?? null,
            shortShown: span?.shown ?? false,
            rouge: span ? rougeL(span.text, q.answers) : null,
            bm25,
            bm25At1: bm25.length > 0 && sentenceAnswers(bm25[0]!, q.answers),
            bm25At3: bm25.some((s) => sentenceAnswers(s, q.answers)),
            ablations: {},
            ms,
          };
          for (const a of ablations) {
            const ra = await ask(a);
            const fa = ra.sentences.find((s) => s.docId === document.id && s.rank === 0);
            result.ablations[a] = fa !== undefined && sentenceAnswers(fa.text, q.answers);
          }
          results.push(result);
          process.stderr.write(`\r${results.length}/${total} questions, ${si + 1}/${stories.length} stories: sentence@1 ${pct(results.filter((x) => x.explicit && x.at1).length, results.filter((x) => x.explicit).length)} (explicit)   `);
        }
      } finally {
        await core.close();
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.stderr.write('\n');
  const seconds = (Date.now() - t0) / 1000;
  const summary = { explicit: summarize(results.filter((r) => r.explicit), ablations), implicit: summarize(results.filter((r) => !r.explicit), ablations), all: summarize(results, ablations) };
  const m = model;
  console.log(
    `\nFairytaleQA ${split} (${path.relative(process.cwd(), dataDir) || dataDir}): ${stories.length} stories, ${results.length} questions, top ${top} passages, ${memory ? `each story read into memory by ${m?.name ?? 'the model'} (${m ? (m.parameters / 1e6).toFixed(2) : '?'}M parameters), ${backendName} backend, ${Math.round(readTokens / Math.max(1e-9, readSeconds))} tokens/s` : 'not read into memory'}${rerank ? ', the model scores the best sentences' : ''}, ranker ${String(RANKER.meta?.version ?? '?')}, ${os.cpus().length} cores, ${seconds.toFixed(0)} s\n`,
  );
  const row = (name: string, f: (s: Summary) => string) => console.log(`| ${name} | ${f(summary.explicit)} | ${f(summary.implicit)} |`);
  console.log(`| measure | explicit (n=${summary.explicit.n}) | implicit (n=${summary.implicit.n}) |\n|---|---|---|`);
  row('sentence@1', (s) => pctOf(s.at1));
  row('sentence@3', (s) => pctOf(s.at3));
  row('short answer given', (s) => pctOf(s.shortGiven));
  row('ROUGE-L F1 of the short answers given', (s) => (s.rougeGiven === null ? '–' : s.rougeGiven.toFixed(3)));
  row('ROUGE-L F1 over all questions (0 where none is given)', (s) => s.rougeAll.toFixed(3));
  row('ROUGE-L F1 of the best span, always given', (s) => s.rougeAlways.toFixed(3));
  row('not found', (s) => pctOf(s.notFound));
  row('baseline: BM25 over the story\'s sentences, @1', (s) => pctOf(s.bm25At1));
  row('baseline: BM25 over the story\'s sentences, @3', (s) => pctOf(s.bm25At3));
  const about: Record<string, string> = { 'no-model': "without the model's reading signal (the text stage alone)", 'no-bm25': 'text stage retrained without sentence-level BM25', 'no-passage-rank': "text stage retrained without the passage's rank", 'no-coverage': 'text stage retrained without the question-coverage features' };
  for (const a of Object.keys(summary.explicit.ablations)) row(`ablation: ${about[a] ?? a}, sentence@1`, (s) => pctOf(s.ablations[a] ?? null));
  row('the model\'s reading signal used (book read)', (s) => pctOf(s.modelScored));
  row('sentence confidence: mean / ECE (10 bins)', (s) => (s.confidenceMean === null ? '–' : `${s.confidenceMean.toFixed(2)} / ${s.ece!.toFixed(3)}`));
  row('short answers given with ROUGE-L >= 0.5', (s) => pctOf(s.shortPrecision));
  row('time per question (s)', (s) => (s.msPerQuestion / 1000).toFixed(2));
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `fairytaleqa-${split}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(out, JSON.stringify({ task: 'fairytaleqa', split, data: dataDir, stories: stories.length, questions: results.length, top, memory, rerank, model: m, backend: backendName, readTokensPerSecond: readTokens / Math.max(1e-9, readSeconds), seconds, ranker: RANKER.meta ?? null, summary, results }, null, 2));
  console.log(`\nWritten: ${out}`);
  return 0;
}

interface Summary {
  n: number;
  at1: number | null;
  at3: number | null;
  shortGiven: number | null;
  rougeGiven: number | null;
  rougeAll: number;
  rougeAlways: number;
  notFound: number | null;
  bm25At1: number | null;
  bm25At3: number | null;
  ablations: Record<string, number | null>;
  confidenceMean: number | null;
  ece: number | null;
  modelScored: number | null;
  shortPrecision: number | null;
  msPerQuestion: number;
}

const rate = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : null);
const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)}%` : '–');
const pctOf = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

export function summarize(rs: QuestionResult[], ablations: readonly string[]): Summary {
  const given = rs.filter((r) => r.shortShown);
  const conf = rs.filter((r) => r.confidence !== null);
  // expected calibration error of the first sentence's confidence, 10 equal-width bins
  let ece = 0;
  for (let b = 0; b < 10; b++) {
    const inBin = conf.filter((r) => Math.min(9, Math.floor(r.confidence! * 10)) === b);
    if (inBin.length === 0) continue;
    const c = inBin.reduce((a, r) => a + r.confidence!, 0) / inBin.length;
    const acc = inBin.filter((r) => r.at1).length / inBin.length;
    ece += (inBin.length / conf.length) * Math.abs(c - acc);
  }
  const abl: Record<string, number | null> = {};
  for (const a of ablations) abl[a] = rate(rs.filter((r) => a in r.ablations).map((r) => r.ablations[a]!));
  return {
    n: rs.length,
    at1: rate(rs.map((r) => r.at1)),
    at3: rate(rs.map((r) => r.at3)),
    shortGiven: rate(rs.map((r) => r.shortShown)),
    rougeGiven: given.length ? given.reduce((a, r) => a + (r.rouge ?? 0), 0) / given.length : null,
    rougeAll: rs.length ? given.reduce((a, r) => a + (r.rouge ?? 0), 0) / rs.length : 0,
    rougeAlways: rs.length ? rs.reduce((a, r) => a + (r.rouge ?? 0), 0) / rs.length : 0,
    notFound: rate(rs.map((r) => r.notFound)),
    bm25At1: rate(rs.map((r) => r.bm25At1)),
    bm25At3: rate(rs.map((r) => r.bm25At3)),
    ablations: abl,
    confidenceMean: conf.length ? conf.reduce((a, r) => a + r.confidence!, 0) / conf.length : null,
    ece: conf.length ? ece : null,
    modelScored: rate(rs.filter((r) => !r.notFound).map((r) => r.modelScored)),
    shortPrecision: given.length ? given.filter((r) => (r.rouge ?? 0) >= 0.5).length / given.length : null,
    msPerQuestion: rs.length ? rs.reduce((a, r) => a + r.ms, 0) / rs.length : 0,
  };
}
