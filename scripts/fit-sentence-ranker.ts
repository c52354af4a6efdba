// `npx tsx scripts/fit-sentence-ranker.ts [--data DIR] [--read 30] [--hidden 0] [--model F] [--backend NAME] [--out core/ask/sentence-ranker.json]`
// Fits the scorers that choose the answering sentence (core/ask/sentences.ts, answer-sentence.ts)
// on FairytaleQA: the train split for every weight, the val split only to calibrate the
// confidences and choose when a short answer is shown. Never the test split.
//  1. Every train story is imported into a scratch library of its own; each question's passages
//     are found as the app finds them (FTS5 BM25, the top 8); every candidate sentence gets its features and a
//     label (it holds a gold answer: LCS >= 0.8 x the answer's words). A softmax over each
//     question's candidates (a linear score with per-question-kind interactions, L2) is fit by Adam,
//     optionally refit jointly with a small tanh term (--hidden units over the features and the kind).
//     The ablations are the same fit without a group of features.
//  2. The first --read train stories are read into memory by the model, through the app; the
//     second stage (the first stage's score and the reading's per-candidate signals) is fit on
//     them, with the first stage refit without those stories (so its score is out of sample).
//  3. The short answer: a softmax over the spans of the sentence the app would show, toward the
//     spans with the best ROUGE-L against the gold answers (train questions it gets right).
//  4. On val: Platt scaling of the top sentence's probability (P it answers), a logistic fit of
//     P(short answer has ROUGE-L >= 0.5) from the sentence's confidence and the span's probability;
//     a short answer is shown when that is at least SPAN_SHOWN.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInProcessClient } from '../core/api/in-process.js';
import { createCore } from '../core/app.js';
import { bookIdf } from '../core/ask/book-idf.js';
import { loadFairytaleQA, rougeL, sentenceAnswers, type FtqaStory } from '../core/ask/fairytaleqa.js';
import { MODEL_FEATURES, modelSignals, readingTrace } from '../core/ask/answer-sentence.js';
import { retrieve } from '../core/ask/retrieve.js';
import { distinctTop, FEATURES, featurize, questionKind, rankCandidates, spanCandidates, type RankerWeights, type SpanWeights } from '../core/ask/sentences.js';
import { openDatabase, type Db } from '../core/library/database.js';
import { importFile } from '../core/library/importer.js';

const TOP = 8; // passages, as the Ask view asks
const KINDS = ['who', 'what', 'where', 'when', 'why', 'how-feel', 'how', 'which', 'other'];
const SPAN_SHOWN = 0.5; // shown when more likely right than not
const GROUPS: Record<string, string[]> = {
  'no-bm25': ['bm25', 'bm25Rel', 'bm25Rank', 'prevBm25Rel', 'nextBm25Rel', 'bestInPassage'],
  'no-passage-rank': ['passageRank', 'passageBm25Rel'],
  'no-coverage': ['coverage', 'coverageFirst', 'coverageLast', 'termsMatched', 'bigrams', 'prevCoverage', 'nextCoverage', 'ordered', 'proximity', 'grams'],
};

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const dataDir = path.resolve(opt('data', path.join(import.meta.dirname, '../../shared/data/qa/fairytaleqa')));
const readCount = Number(opt('read', '30'));
// the scorer's tanh units (0: linear only). 16 units fit train better but val worse (54.3% vs 54.7%)
const HIDDEN = Number(opt('hidden', '0'));
const outFile = path.resolve(opt('out', path.join(import.meta.dirname, '../core/ask/sentence-ranker.json')));
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Cand {
  /** the text as it stands in the passage (kept where a span may be needed: every val candidate, right train ones) */
  raw: string;
  passage: number;
  start: number;
  end: number;
  x: Record<string, number>;
  y: number;
}
interface Question {
  story: string;
  question: string;
  explicit: boolean;
  answers: string[];
  kind: number;
  cands: Cand[];
  docId: number;
}

/**
 * Every question of the stories with its candidates, passages found as the app finds them. Each
 * story sits alone in its own scratch library, as `npm run eval -- fairytaleqa` asks it: FTS5's
 * BM25 counts its statistics over the whole library, so stories side by side would give other
 * scores and passage ranks than the app's.
 */
async function collect(work: string, stories: FtqaStory[], keepRaw: 'all' | 'right'): Promise<Question[]> {
  const out: Question[] = [];
  for (const s of stories) {
    const dir = fs.mkdtempSync(path.join(work, 'story-'));
    const file = path.join(dir, `${s.name}.txt`);
    fs.writeFileSync(file, s.text);
    const db = openDatabase(path.join(dir, 'library.sqlite'));
    try {
      const { document } = await importFile(db, file);
      out.push(...questionsOf(db, s, document.id, keepRaw));
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

function questionsOf(db: Db, s: FtqaStory, docId: number, keepRaw: 'all' | 'right'): Question[] {
  const idf = bookIdf(db, [docId]);
  return s.questions.map((q) => {
    const r = retrieve(db, q.question, { top: TOP, ids: [docId] });
    const passages = r.citations.map((c, i) => ({ text: c.text, rank: i + 1, bm25: c.bm25 }));
    const { candidates } = featurize(q.question, passages, idf);
    return {
      story: s.name,
      question: q.question,
      explicit: q.explicit,
      answers: q.answers,
      kind: KINDS.indexOf(questionKind(q.question)),
      docId,
      cands: candidates.map((c) => {
        const y = sentenceAnswers(c.text, q.answers) ? 1 : 0;
        return { raw: keepRaw === 'all' || y ? passages[c.passage]!.text.slice(c.start, c.end) : '', passage: c.passage, start: c.start, end: c.end, x: c.features, y };
      }),
    };
  });
}

// --- a softmax over each group's rows, linear in standardized features, with per-kind interactions

interface Group {
  /** rows x D, row-major */
  X: Float64Array;
  n: number;
  y: number[];
  kind: number;
}

function toGroup(rows: number[][], y: number[], kind: number, D: number): Group {
  const X = new Float64Array(rows.length * D);
  rows.forEach((r, i) => X.set(r, i * D));
  return { X, n: rows.length, y, kind };
}

function standardize(groups: Group[], D: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(D);
  const sq = new Float64Array(D);
  let n = 0;
  for (const g of groups) {
    for (let i = 0; i < g.n; i++, n++) {
      for (let j = 0; j < D; j++) {
        const v = g.X[i * D + j]!;
        sum[j]! += v;
        sq[j]! += v * v;
      }
    }
  }
  const mean = Array.from(sum, (s) => s / Math.max(1, n));
  const std = Array.from(sq, (s, j) => Math.sqrt(Math.max(0, s / Math.max(1, n) - mean[j]! ** 2)) || 1);
  for (const g of groups) for (let i = 0; i < g.n; i++) for (let j = 0; j < D; j++) g.X[i * D + j] = (g.X[i * D + j]! - mean[j]!) / std[j]!;
  return { mean, std };
}

/** One Adam step (betas 0.9, 0.999) on theta from the gradient summed over n groups, with L2 decay l2. */
function adamStep(theta: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, it: number, lr: number, l2: number, n: number): void {
  for (let j = 0; j < theta.length; j++) {
    const gj = grad[j]! / n + l2 * theta[j]!;
    m[j] = 0.9 * m[j]! + 0.1 * gj;
    v[j] = 0.999 * v[j]! + 0.001 * gj * gj;
    theta[j]! -= (lr * (m[j]! / (1 - 0.9 ** (it + 1)))) / (Math.sqrt(v[j]! / (1 - 0.999 ** (it + 1))) + 1e-8);
  }
}

function fitSoftmax(groups: Group[], D: number, o: { kinds: boolean; l2?: number; iters?: number; lr?: number }): { w: number[]; kw: number[][] } {
  const l2 = o.l2 ?? 1e-3;
  const K = o.kinds ? KINDS.length : 0;
  const P = D * (1 + K);
  const theta = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const grad = new Float64Array(P);
  const used = groups.filter((g) => g.y.some((y) => y > 0) && g.n > 0);
  const iters = o.iters ?? 300;
  const eff = new Float64Array(D);
  let s = new Float64Array(64);
  for (let it = 0; it < iters; it++) {
    grad.fill(0);
    for (const g of used) {
      const off = K ? D * (1 + g.kind) : -1;
      for (let j = 0; j < D; j++) eff[j] = theta[j]! + (off >= 0 ? theta[off + j]! : 0);
      if (s.length < g.n) s = new Float64Array(g.n * 2);
      let max = -Infinity;
      for (let i = 0; i < g.n; i++) {
        let z = 0;
        for (let j = 0; j < D; j++) z += g.X[i * D + j]! * eff[j]!;
        s[i] = z;
        if (z > max) max = z;
      }
      let Z = 0;
      let Py = 0;
      for (let i = 0; i < g.n; i++) {
        s[i] = Math.exp(s[i]! - max);
        Z += s[i]!;
        Py += s[i]! * g.y[i]!;
      }
      for (let i = 0; i < g.n; i++) {
        const d = s[i]! / Z - (s[i]! * g.y[i]!) / Py;
        if (d === 0) continue;
        for (let j = 0; j < D; j++) {
          const gx = d * g.X[i * D + j]!;
          grad[j]! += gx;
          if (off >= 0) grad[off + j]! += gx;
        }
      }
    }
    adamStep(theta, grad, m, v, it, o.lr ?? 0.05, l2, used.length);
  }
  return { w: Array.from(theta.slice(0, D)), kw: Array.from({ length: K }, (_, k) => Array.from(theta.slice(D * (1 + k), D * (2 + k)))) };
}

/**
 * The linear softmax (w, per-kind kw) refit jointly with a one-hidden-layer tanh term over the
 * standardized features and the question kind's one-hot, by full-batch Adam from the linear fit.
 */
function fitSoftmaxMlp(groups: Group[], D: number, lin: { w: number[]; kw: number[][] }, H: number, o: { iters?: number; lr?: number; l2?: number } = {}): { w: number[]; kw: number[][]; W: number[][]; b: number[]; out: number[] } {
  const K = KINDS.length;
  const I = D + K; // inputs: features, kind one-hot
  // parameter layout: w [D], kw [K*D], W [H*I], b [H], out [H]
  const oKw = D, oW = D + K * D, oB = oW + H * I, oOut = oB + H, P = oOut + H;
  const theta = new Float64Array(P);
  theta.set(lin.w, 0);
  lin.kw.forEach((r, k) => theta.set(r, oKw + k * D));
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  for (let i = 0; i < H * I; i++) theta[oW + i] = rand() * Math.sqrt(1 / I);
  const m = new Float64Array(P), v = new Float64Array(P), grad = new Float64Array(P);
  const used = groups.filter((g) => g.y.some((y) => y > 0) && g.n > 0);
  const iters = o.iters ?? 150, lr = o.lr ?? 0.02, l2 = o.l2 ?? 1e-3;
  const eff = new Float64Array(D);
  let z = new Float64Array(256), t = new Float64Array(256 * H);
  for (let it = 0; it < iters; it++) {
    grad.fill(0);
    for (const g of used) {
      const off = oKw + g.kind * D;
      for (let j = 0; j < D; j++) eff[j] = theta[j]! + theta[off + j]!;
      if (z.length < g.n) { z = new Float64Array(g.n * 2); t = new Float64Array(g.n * 2 * H); }
      let max = -Infinity;
      for (let i = 0; i < g.n; i++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += g.X[i * D + j]! * eff[j]!;
        for (let h = 0; h < H; h++) {
          const row = oW + h * I;
          let a = theta[oB + h]! + theta[row + D + g.kind]!;
          for (let j = 0; j < D; j++) a += theta[row + j]! * g.X[i * D + j]!;
          const th = Math.tanh(a);
          t[i * H + h] = th;
          s += theta[oOut + h]! * th;
        }
        z[i] = s;
        if (s > max) max = s;
      }
      let Z = 0, Py = 0;
      for (let i = 0; i < g.n; i++) { z[i] = Math.exp(z[i]! - max); Z += z[i]!; Py += z[i]! * g.y[i]!; }
      for (let i = 0; i < g.n; i++) {
        const d = z[i]! / Z - (z[i]! * g.y[i]!) / Py;
        if (Math.abs(d) < 1e-9) continue;
        for (let j = 0; j < D; j++) { const gx = d * g.X[i * D + j]!; grad[j]! += gx; grad[off + j]! += gx; }
        for (let h = 0; h < H; h++) {
          const th = t[i * H + h]!;
          grad[oOut + h]! += d * th;
          const da = d * theta[oOut + h]! * (1 - th * th);
          const row = oW + h * I;
          for (let j = 0; j < D; j++) grad[row + j]! += da * g.X[i * D + j]!;
          grad[row + D + g.kind]! += da;
          grad[oB + h]! += da;
        }
      }
    }
    adamStep(theta, grad, m, v, it, lr, l2, used.length);
  }
  const arr = (a: number, n: number) => Array.from(theta.slice(a, a + n));
  return {
    w: arr(0, D),
    kw: Array.from({ length: K }, (_, k) => arr(oKw + k * D, D)),
    W: Array.from({ length: H }, (_, h) => arr(oW + h * I, I)),
    b: arr(oB, H),
    out: arr(oOut, H),
  };
}

function rankerFrom(questions: Question[], features: string[], kinds: boolean, extra?: (q: Question, i: number) => Record<string, number>, hidden = 0): RankerWeights {
  const groups = questions.map((q) => toGroup(q.cands.map((c, i) => { const x = extra ? { ...c.x, ...extra(q, i) } : c.x; return features.map((f) => x[f] ?? 0); }), q.cands.map((c) => c.y), q.kind, features.length));
  const { mean, std } = standardize(groups, features.length);
  const lin = fitSoftmax(groups, features.length, { kinds });
  const round = (xs: number[]) => xs.map((x) => Number(x.toPrecision(6)));
  if (hidden > 0 && kinds) {
    const f = fitSoftmaxMlp(groups, features.length, lin, hidden);
    return {
      features, mean: round(mean), std: round(std), weights: round(f.w),
      kindWeights: Object.fromEntries(KINDS.map((k, i) => [k, round(f.kw[i]!)])),
      mlp: { kinds: KINDS, W: f.W.map(round), b: round(f.b), out: round(f.out) },
    };
  }
  return { features, mean: round(mean), std: round(std), weights: round(lin.w), ...(kinds ? { kindWeights: Object.fromEntries(KINDS.map((k, i) => [k, round(lin.kw[i]!)])) } : {}) };
}

/** Top-1 accuracy of a ranker on questions (explicit ones unless all). */
function accuracy(w: RankerWeights, qs: Question[]): number {
  const ex = qs.filter((q) => q.explicit);
  return ex.filter((q) => q.cands.length > 0 && rankCandidates(w, q.question, q.cands.map((c) => ({ ...c, features: c.x })))[0]!.y === 1).length / Math.max(1, ex.length);
}

/** Logistic regression by gradient descent (a few inputs): returns the weights, the last one the bias. */
function logistic(xs: number[][], ys: number[], iters = 3000, lr = 0.1): number[] {
  const D = xs[0]!.length;
  const w = new Array<number>(D + 1).fill(0);
  for (let it = 0; it < iters; it++) {
    const g = new Array<number>(D + 1).fill(0);
    xs.forEach((x, i) => {
      const z = x.reduce((a, v, j) => a + v * w[j]!, w[D]!);
      const d = 1 / (1 + Math.exp(-z)) - ys[i]!;
      x.forEach((v, j) => (g[j]! += d * v));
      g[D]! += d;
    });
    for (let j = 0; j <= D; j++) w[j]! -= (lr * g[j]!) / xs.length;
  }
  return w;
}

const logit = (p: number) => Math.log(Math.max(1e-6, p) / Math.max(1e-6, 1 - p));

// --- the short answer's span scorer

function spanGroups(questions: Question[], ranker: RankerWeights): { groups: Array<{ rows: Record<string, number>[]; y: number[] }>; names: string[] } {
  const groups: Array<{ rows: Record<string, number>[]; y: number[] }> = [];
  const names = new Set<string>();
  for (const q of questions) {
    if (!q.explicit || q.cands.length === 0) continue;
    const ranked = rankCandidates(ranker, q.question, q.cands.map((c) => ({ ...c, features: c.x })));
    const shown = ranked[0]!;
    if (shown.y !== 1) continue; // the app shows a wrong sentence: no right span in it
    const spans = spanCandidates(q.question, shown.raw);
    if (spans.length === 0) continue;
    const r = spans.map((s) => rougeL(s.text, q.answers));
    const best = Math.max(...r);
    if (best < 0.3) continue;
    spans.forEach((s) => Object.keys(s.features).forEach((k) => names.add(k)));
    groups.push({ rows: spans.map((s) => s.features), y: r.map((x) => (x >= best - 1e-9 ? 1 : 0)) });
  }
  return { groups, names: [...names].sort() };
}

function fitSpans(questions: Question[], ranker: RankerWeights): SpanWeights {
  const { groups, names } = spanGroups(questions, ranker);
  const gs = groups.map((g) => toGroup(g.rows.map((r) => names.map((n) => r[n] ?? 0)), g.y, 0, names.length));
  const { mean, std } = standardize(gs, names.length);
  const { w } = fitSoftmax(gs, names.length, { kinds: false, l2: 1e-3, iters: 300 });
  const round = (xs: number[]) => xs.map((x) => Number(x.toPrecision(6)));
  log(`spans: ${gs.length} train sentences, ${names.length} features`);
  return { features: names, mean: round(mean), std: round(std), weights: round(w) };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-fit-'));
  try {
    const train = loadFairytaleQA(dataDir, 'train');
    const val = loadFairytaleQA(dataDir, 'val');
    const trainQs = await collect(work, train, 'right');
    const valQs = await collect(work, val, 'all');
    log(`collected ${trainQs.length} train and ${valQs.length} val questions (${((Date.now() - t0) / 1000).toFixed(0)} s)`);

    const features = [...FEATURES];
    // the weights are fit on explicit questions only: an implicit one's answer is seldom a span of
    // the story, so its labels mostly teach noise (val sentence@1 54.9% -> 55.6% when dropped)
    const fitQs = trainQs.filter((q) => q.explicit);
    const ranker = rankerFrom(fitQs, features, true, undefined, HIDDEN);
    log(`first stage: val sentence@1 (explicit) ${(100 * accuracy(ranker, valQs)).toFixed(1)}%, train ${(100 * accuracy(ranker, trainQs)).toFixed(1)}%`);
    const ablations: Record<string, RankerWeights> = {};
    for (const [name, drop] of Object.entries(GROUPS)) {
      ablations[name] = rankerFrom(fitQs, features.filter((f) => !drop.includes(f)), true, undefined, HIDDEN);
      log(`  ${name}: val ${(100 * accuracy(ablations[name]!, valQs)).toFixed(1)}%`);
    }

    // calibration of the first stage on val: P(the top sentence answers) from its softmax probability
    const calib = (w: RankerWeights, qs: Question[]) => {
      const xs: number[][] = [];
      const ys: number[] = [];
      for (const q of qs) {
        if (q.cands.length === 0) continue;
        const top = rankCandidates(w, q.question, q.cands.map((c) => ({ ...c, features: c.x })))[0]!;
        xs.push([logit(top.p)]);
        ys.push(top.y);
      }
      const [a, b] = logistic(xs, ys);
      return { a: Number(a!.toPrecision(6)), b: Number(b!.toPrecision(6)) };
    };
    ranker.calibration = calib(ranker, valQs);
    for (const a of Object.values(ablations)) a.calibration = calib(a, valQs);

    // the second stage: the model's reading signals, on train stories read into memory
    let withModel: RankerWeights | undefined;
    if (readCount > 0) {
      const readStories = train.slice(0, readCount);
      const names = new Set(readStories.map((s) => s.name));
      const outOfSample = rankerFrom(fitQs.filter((q) => !names.has(q.story)), features, true, undefined, HIDDEN);
      const core = createCore({ dataDir: path.join(work, 'library'), transport: 'in-process', reading: { ...(argv.includes('--model') ? { modelFile: path.resolve(opt('model', '')) } : {}), ...(argv.includes('--backend') ? { backend: opt('backend', 'wasm') } : {}) } });
      const api = createInProcessClient(core.server);
      const read: Array<Question & { signals: Array<Record<string, number>>; lexical: number[] }> = [];
      try {
        const m = await core.reading.model();
        log(`reading ${readStories.length} train stories with ${m.model.name} (${m.backend})`);
        for (const s of readStories) {
          const file = path.join(work, `${s.name}.txt`);
          fs.writeFileSync(file, s.text);
          const { document } = await api.call('library.importPath', { path: file });
          await api.call('reading.start', { id: document.id });
          await core.reading.whenIdle();
          const trace = readingTrace(core.db, document.id);
          if (!trace) throw new Error(`${s.name} was not read`);
          for (const q of questionsOf(core.db, s, document.id, 'right')) {
            if (q.cands.length === 0 || !q.explicit) continue;
            const r = retrieve(core.db, q.question, { top: TOP, ids: [document.id] });
            const lexical = rankCandidates(outOfSample, q.question, q.cands.map((c) => ({ ...c, features: c.x })));
            // back in candidate order
            const score = new Map(lexical.map((c) => [`${c.passage}:${c.start}:${c.end}`, c.score]));
            const signals = modelSignals(trace, r.citations, r.citations.map((_, i) => i), q.cands);
            if (signals) read.push({ ...q, signals, lexical: q.cands.map((c) => score.get(`${c.passage}:${c.start}:${c.end}`)!) });
          }
          await api.call('library.delete', { id: document.id });
          process.stderr.write(`\r  read ${s.name.slice(0, 40).padEnd(40)} ${read.length} questions `);
        }
        process.stderr.write('\n');
      } finally {
        await core.close();
      }
      const second = ['lexical', ...MODEL_FEATURES];
      withModel = rankerFrom(read, second, false, (q, i) => ({ lexical: (q as (typeof read)[number]).lexical[i]!, ...(q as (typeof read)[number]).signals[i]! }));
      withModel.calibration = ranker.calibration; // val is not read here: the first stage's mapping (the second stage's scale is the first's, plus small terms)
      // cross-validated check on the read stories: does the model add anything to the text score?
      const folds = 3;
      let lex = 0;
      let fused = 0;
      let n = 0;
      for (let f = 0; f < folds; f++) {
        const test = read.filter((_, i) => i % folds === f);
        const w2 = rankerFrom(read.filter((_, i) => i % folds !== f), second, false, (q, i) => ({ lexical: (q as (typeof read)[number]).lexical[i]!, ...(q as (typeof read)[number]).signals[i]! }));
        for (const q of test.filter((x) => x.explicit)) {
          n++;
          lex += q.cands[q.lexical.indexOf(Math.max(...q.lexical))]!.y;
          const s = rankCandidates(w2, q.question, q.cands.map((c, i) => ({ ...c, features: { lexical: q.lexical[i]!, ...q.signals[i]! } })));
          fused += s[0]!.y;
        }
      }
      log(`second stage on ${read.length} questions of ${readStories.length} read stories: weights ${second.map((f, j) => `${f} ${withModel!.weights[j]!.toFixed(3)}`).join(', ')}; 3-fold sentence@1 (explicit, n=${n}) text ${(100 * lex / n).toFixed(1)}% -> with the model ${(100 * fused / n).toFixed(1)}%`);
      (withModel as RankerWeights & { meta?: object }).meta = { questions: read.length, stories: readStories.length, crossValidated: { n, text: lex / n, withModel: fused / n } };
    }

    // the short answer
    const spanWeights = fitSpans(trainQs, ranker);
    ranker.spanWeights = spanWeights;
    // its calibration on val: P(ROUGE-L >= 0.5) from the sentence's confidence and the span's probability
    const xs: number[][] = [];
    const ys: number[] = [];
    const { bestSpan, calibrated } = await import('../core/ask/sentences.js');
    for (const q of valQs) {
      if (q.cands.length === 0) continue;
      const ranked = rankCandidates(ranker, q.question, q.cands.map((c) => ({ ...c, features: c.x })));
      const top = distinctTop(ranked, 1)[0]!;
      const s = bestSpan(spanWeights, q.question, top.raw);
      if (!s) continue;
      xs.push([logit(calibrated(ranker, top.p)), logit(s.p)]);
      ys.push(rougeL(s.text, q.answers) >= 0.5 ? 1 : 0);
    }
    const [a, b, c] = logistic(xs, ys);
    ranker.spanCalibration = { a: Number(a!.toPrecision(6)), b: Number(b!.toPrecision(6)), c: Number(c!.toPrecision(6)) };
    ranker.spanThreshold = SPAN_SHOWN;
    const shownP = xs.map((x) => 1 / (1 + Math.exp(-(a! * x[0]! + b! * x[1]! + c!))));
    const shown = shownP.map((p, i) => ({ p, y: ys[i]! })).filter((x) => x.p >= SPAN_SHOWN);
    log(`short answers on val: right (ROUGE-L >= 0.5) ${(100 * ys.filter(Boolean).length / ys.length).toFixed(1)}% when always given; shown for ${(100 * shown.length / ys.length).toFixed(1)}%, right ${(100 * shown.filter((x) => x.y).length / Math.max(1, shown.length)).toFixed(1)}% of those`);

    const out = {
      ...ranker,
      ...(withModel ? { withModel } : {}),
      ablations,
      meta: {
        version: `fairytaleqa-${new Date().toISOString().slice(0, 10)}`,
        about: 'Fit by scripts/fit-sentence-ranker.ts: weights on the FairytaleQA train split, calibration and the short-answer threshold on val.',
        trainQuestions: trainQs.length,
        valQuestions: valQs.length,
        top: TOP,
        valSentenceAt1Explicit: Number(accuracy(ranker, valQs).toFixed(4)),
        readStories: readCount,
      },
    };
    fs.writeFileSync(outFile, `${JSON.stringify(out, null, 1)}\n`);
    log(`written ${outFile} (${(fs.statSync(outFile).size / 1024).toFixed(0)} KiB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
