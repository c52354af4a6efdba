// The evaluation harness's tasks and retrieval scoring (run by scripts/eval.ts; tested on small
// settings). S-NIAH in the style of RULER: one needle "One of the special magic numbers for KEY
// is: NNNNNNN." hidden at a depth of a haystack of noise sentences or book text. BABILong-style:
// a bAbI story's facts scattered through book text, in order. Each sample becomes a document in a
// fresh library; a question is asked of it; retrieval recall@k = every piece of evidence lies in
// the union of the top k cited passages. Samples are generated from a seed, so splits are fixed,
// and never from what a model was trained on.
import { randomSource } from '../../models/util/random.js';
import type { Db } from '../library/database.js';
import { importFile } from '../library/importer.js';
import { retrieve } from './retrieve.js';
export { answerPrompt } from './prompt.js';
import fs from 'node:fs';
import path from 'node:path';

export interface Sample {
  task: string;
  length: number; // characters of haystack (tokens, for the byte-level model)
  depth: number; // where the (first) evidence sits, 0..1
  text: string;
  question: string;
  answer: string;
  evidence: string[];
}

const NOISE = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ';

/** Insert `sentence` into `text` at about fraction `at`, on a sentence boundary. */
function insertAt(text: string, at: number, sentence: string): string {
  const target = Math.floor(text.length * at);
  const cut = text.indexOf('. ', target);
  const i = cut < 0 ? text.length : cut + 2;
  return `${text.slice(0, i)}${sentence} ${text.slice(i)}`;
}

/** `length` characters of filler: the noise sentences, or book text from a seeded place. */
function haystack(length: number, book: string | null, next: () => number): string {
  if (!book || book.length < length * 1.2) return NOISE.repeat(Math.ceil(length / NOISE.length)).slice(0, length);
  const from = Math.floor(next() * (book.length - length));
  return book.slice(from, from + length).replace(/\s+/g, ' ');
}

export function sniahSamples(opts: { lengths: number[]; perLength: number; adjectives: string[]; nouns: string[]; book: string | null; seed: number }): Sample[] {
  const next = randomSource(opts.seed);
  const out: Sample[] = [];
  for (const length of opts.lengths) {
    for (let k = 0; k < opts.perLength; k++) {
      const key = `${opts.adjectives[Math.floor(next() * opts.adjectives.length)]}-${opts.nouns[Math.floor(next() * opts.nouns.length)]}`;
      const number = String(1_000_000 + Math.floor(next() * 9_000_000));
      const needle = `One of the special magic numbers for ${key} is: ${number}.`;
      const depth = opts.perLength === 1 ? 0.5 : k / (opts.perLength - 1); // spread from the start to the end
      out.push({
        task: opts.book ? 'sniah-book' : 'sniah-noise',
        length,
        depth,
        text: insertAt(haystack(length, opts.book, next), depth, needle),
        question: `What is the special magic number for ${key} mentioned in the provided text?`,
        answer: number,
        evidence: [needle],
      });
    }
  }
  return out;
}

/** bAbI stories split once for everyone: the first 90% may be trained on, the last 10% are for evaluation. */
export function splitStories<T>(stories: T[]): { train: T[]; heldOut: T[] } {
  const cut = Math.floor(stories.length * 0.9);
  return { train: stories.slice(0, cut), heldOut: stories.slice(cut) };
}

export interface Story {
  facts: string[];
  question: string;
  answer: string;
  supporting: string[];
}

/** bAbI stories (the numbered format): each question with the facts before it and its supporting facts. */
export function parseBabi(text: string): Story[] {
  const out: Story[] = [];
  let lines: Array<{ n: number; text: string }> = [];
  for (const raw of text.split('\n')) {
    const m = /^(\d+) (.*)$/.exec(raw.trim());
    if (!m) continue;
    const n = Number(m[1]);
    if (n === 1) lines = [];
    const parts = m[2]!.split('\t');
    if (parts.length >= 3) {
      const ids = parts[2]!.trim().split(/\s+/).map(Number);
      const facts = lines.map((l) => l.text);
      out.push({ facts, question: parts[0]!.trim(), answer: parts[1]!.trim(), supporting: ids.map((id) => lines.find((l) => l.n === id)?.text ?? '').filter(Boolean) });
    } else lines.push({ n, text: m[2]!.trim() });
  }
  return out;
}

export function babilongSamples(opts: { task: string; stories: Story[]; lengths: number[]; perLength: number; book: string | null; seed: number }): Sample[] {
  const next = randomSource(opts.seed);
  const out: Sample[] = [];
  for (const length of opts.lengths) {
    for (let k = 0; k < opts.perLength; k++) {
      const story = opts.stories[Math.floor(next() * opts.stories.length)]!;
      let text = haystack(length, opts.book, next);
      // the facts in order, at sorted random depths
      const depths = story.facts.map(() => next()).sort((a, b) => a - b);
      for (let i = story.facts.length - 1; i >= 0; i--) text = insertAt(text, depths[i]!, story.facts[i]!);
      out.push({ task: opts.task, length, depth: depths[story.facts.indexOf(story.supporting[0] ?? '')] ?? 0, text, question: story.question, answer: story.answer, evidence: story.supporting });
    }
  }
  return out;
}

export interface SampleResult {
  length: number;
  depth: number;
  recall: Record<number, boolean>; // k -> every piece of evidence within the top k passages
  ms: number;
}

/** For each k: every piece of the sample's evidence lies within the first k cited passages. */
export function recallAt(s: Sample, citations: Array<{ text: string }>, ks: number[]): Record<number, boolean> {
  const norm = (x: string) => x.replace(/\s+/g, ' ');
  const recall: Record<number, boolean> = {};
  for (const k of ks) {
    const found = norm(citations.slice(0, k).map((c) => c.text).join(' \u0000 '));
    recall[k] = s.evidence.every((e) => found.includes(norm(e)));
  }
  return recall;
}

/** Import each sample as a document and ask its question of it; recall@k for each k. */
export async function evaluateRetrieval(db: Db, workDir: string, samples: Sample[], ks: number[]): Promise<SampleResult[]> {
  const results: SampleResult[] = [];
  for (const [i, s] of samples.entries()) {
    const file = path.join(workDir, `${s.task}-${i}.txt`);
    fs.writeFileSync(file, s.text);
    const { document } = await importFile(db, file);
    fs.rmSync(file);
    const t0 = performance.now();
    const r = retrieve(db, s.question, { top: Math.max(...ks), ids: [document.id] });
    const ms = performance.now() - t0;
    results.push({ length: s.length, depth: s.depth, recall: recallAt(s, r.citations, ks), ms });
  }
  return results;
}

/** Per length: recall@k and the mean time per question. */
export function summarizeResults(results: SampleResult[], ks: number[]): Array<{ length: number; n: number; recall: Record<number, number>; msPerQuestion: number }> {
  const lengths = [...new Set(results.map((r) => r.length))].sort((a, b) => a - b);
  return lengths.map((length) => {
    const rs = results.filter((r) => r.length === length);
    const recall: Record<number, number> = {};
    for (const k of ks) recall[k] = rs.filter((r) => r.recall[k]).length / rs.length;
    return { length, n: rs.length, recall, msPerQuestion: rs.reduce((a, r) => a + r.ms, 0) / rs.length };
  });
}
