// The base model's training data, built from ../shared/data (see its README): public-domain books
// in several languages, mixed with generated needle and bAbI question tasks written the way the
// evaluation harness asks (core/ask/eval.ts). What is evaluated is never trained on:
// - English: the first 4 English books of the manifest are the harness's haystack; held out whole.
// - Other languages: one whole book held out where there are two or more, else the last 10%.
// - bAbI: the first 90% of every task's stories train (splitStories), the rest are the harness's.
// - Needles: the harness's seeds and haystacks are not the ones used here.
import fs from 'node:fs';
import path from 'node:path';
import { randomSource } from '../../models/util/random.js';
import { answerPrompt, parseBabi, sniahSamples, splitStories, type Story } from '../ask/eval.js';

export interface CorpusText {
  source: string;
  lang: string;
  text: string;
}

export interface BaseCorpus {
  train: CorpusText[];
  /** whole texts for evaluation, by language ('tasks' for the generated questions) */
  heldOut: Record<string, string[]>;
  /** bytes of training text by language / 'tasks' */
  trainBytes: Record<string, number>;
}

interface GutenbergEntry {
  file: string;
  lang: string;
  body_start_line: number;
  body_end_line: number;
}

export class CorpusMissingError extends Error {}

function need(dataDir: string, rel: string): string {
  const p = path.join(dataDir, rel);
  if (!fs.existsSync(p)) throw new CorpusMissingError(`The corpus file ${p} is missing. Give the data folder with --corpus DIR (see ../shared/data/README.md).`);
  return fs.readFileSync(p, 'utf8');
}

/** The book bodies of the Gutenberg manifest (header and licence cut), in manifest order; books the
 * manifest lists but the folder lacks (some are kept back on purpose) are skipped. */
export function gutenbergBooks(dataDir: string): CorpusText[] {
  const manifest = JSON.parse(need(dataDir, 'books/gitenberg_manifest.json')) as GutenbergEntry[];
  return manifest.filter((b) => fs.existsSync(path.join(dataDir, b.file))).map((b) => ({ source: b.file, lang: b.lang, text: need(dataDir, b.file).split('\n').slice(b.body_start_line, b.body_end_line).join('\n') }));
}

/** The English books the evaluation harness hides its tasks in (never trained on). */
export function evaluationHaystackBooks(dataDir: string): CorpusText[] {
  return gutenbergBooks(dataDir).filter((b) => b.lang === 'en').slice(0, 4);
}

function russianBooks(dataDir: string): CorpusText[] {
  const dir = path.join(dataDir, 'books/ru');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => ({ source: `books/ru/${f}`, lang: 'ru', text: fs.readFileSync(path.join(dir, f), 'utf8') }));
}

/** Cut at the paragraph boundary nearest `at` (0..1). */
function splitAtParagraph(text: string, at: number): [string, string] {
  const i = text.indexOf('\n\n', Math.floor(text.length * at));
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 2)];
}

export interface BaseCorpusOptions {
  /** training bytes per language at most (books are taken in a seeded order until it is reached) */
  maxBytesPerLanguage?: number;
  /** generated needle and bAbI task texts */
  needleTasks?: number;
  babiTasks?: number;
  seed?: number;
}

export function buildBaseCorpus(dataDir: string, o: BaseCorpusOptions = {}): BaseCorpus {
  const maxBytes = o.maxBytesPerLanguage ?? 8_000_000;
  const seed = o.seed ?? 11;
  const next = randomSource(seed);
  const gutenberg = gutenbergBooks(dataDir);
  const haystackSet = new Set(evaluationHaystackBooks(dataDir).map((b) => b.source));
  const byLang = new Map<string, CorpusText[]>();
  for (const b of [...gutenberg, ...russianBooks(dataDir)]) byLang.set(b.lang, [...(byLang.get(b.lang) ?? []), b]);

  const train: CorpusText[] = [];
  const heldOut: Record<string, string[]> = {};
  const trainBytes: Record<string, number> = {};
  for (const [lang, books] of byLang) {
    let trainBooks: CorpusText[];
    if (lang === 'en') {
      heldOut.en = books.filter((b) => haystackSet.has(b.source)).map((b) => b.text);
      trainBooks = books.filter((b) => !haystackSet.has(b.source));
    } else if (books.length >= 2) {
      heldOut[lang] = [books[0]!.text];
      trainBooks = books.slice(1);
    } else {
      const [head, tail] = splitAtParagraph(books[0]!.text, 0.9);
      heldOut[lang] = [tail];
      trainBooks = [{ ...books[0]!, text: head }];
    }
    // a seeded order, then books until the budget (the last one cut to fit)
    const order = trainBooks.map((b) => ({ b, k: next() })).sort((x, y) => x.k - y.k).map((x) => x.b);
    let bytes = 0;
    for (const b of order) {
      if (bytes >= maxBytes) break;
      const text = b.text.length + bytes > maxBytes ? splitAtParagraph(b.text, (maxBytes - bytes) / b.text.length)[0] : b.text;
      train.push({ ...b, text });
      bytes += text.length;
    }
    trainBytes[lang] = bytes;
  }

  // Generated tasks: their haystacks come from training books only.
  const englishTrain = train.filter((t) => t.lang === 'en').map((t) => t.text).join('\n\n');
  const words = (f: string) => need(dataDir, `ruler/${f}`).split('\n').map((w) => w.trim()).filter(Boolean);
  const lengths = [300, 600, 1200];
  const tasks: string[] = [];
  const needles = sniahSamples({ lengths, perLength: Math.ceil((o.needleTasks ?? 3000) / lengths.length), adjectives: words('wonderwords_adjectivelist.txt'), nouns: words('wonderwords_nounlist.txt'), book: englishTrain, seed: seed + 1000 });
  for (const s of needles) tasks.push(`${answerPrompt(s.text, s.question)} ${s.answer}\n`);
  const babiDir = path.join(dataDir, 'babi/en-10k');
  const babiFiles = fs.existsSync(babiDir) ? fs.readdirSync(babiDir).filter((f) => f.endsWith('_train.txt')).sort() : [];
  const perFile = Math.ceil((o.babiTasks ?? 6000) / Math.max(1, babiFiles.length));
  const heldTasks: string[] = [];
  const story = (s: Story) => `${answerPrompt(s.facts.join('\n'), s.question)} ${s.answer}\n`;
  for (const f of babiFiles) {
    const split = splitStories(parseBabi(fs.readFileSync(path.join(babiDir, f), 'utf8')));
    for (let k = 0; k < perFile && split.train.length > 0; k++) tasks.push(story(split.train[Math.floor(next() * split.train.length)]!));
    for (const s of split.heldOut.slice(0, 10)) heldTasks.push(story(s));
  }
  const heldNeedles = sniahSamples({ lengths, perLength: 10, adjectives: words('wonderwords_adjectivelist.txt'), nouns: words('wonderwords_nounlist.txt'), book: heldOut.en?.join('\n\n') ?? null, seed: seed + 4000 });
  for (const s of heldNeedles) heldTasks.push(`${answerPrompt(s.text, s.question)} ${s.answer}\n`);
  heldOut.tasks = pack(heldTasks);
  // packed into texts of ~30 tasks: windows longer than one task still have whole tasks in them
  for (const text of pack(shuffle(tasks, next))) train.push({ source: 'tasks', lang: 'tasks', text });
  trainBytes.tasks = tasks.reduce((n, t) => n + t.length, 0);
  return { train, heldOut, trainBytes };
}

function shuffle<T>(xs: T[], next: () => number): T[] {
  return xs.map((x) => ({ x, k: next() })).sort((a, b) => a.k - b.k).map((p) => p.x);
}

function pack(tasks: string[], per = 30): string[] {
  const out: string[] = [];
  for (let i = 0; i < tasks.length; i += per) out.push(tasks.slice(i, i + per).join('\n'));
  return out;
}
