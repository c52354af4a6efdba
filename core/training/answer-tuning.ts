// The recipe's second stage, answer tuning: after the base stage the model reads well (held-out
// perplexity) but has not learnt what follows "Answer:" (after a magic-number question it was as
// likely to write a letter as a digit). Here it trains on questions put exactly as the app puts
// them (core/ask/prompt.ts: "Question: ...", the sentences focusContext keeps, then "Answer:"),
// with the loss on the answer's tokens and, at a small weight, on the rest so that it keeps reading
// well. Only training data: the base corpus's English training books as haystacks and the first
// 90% of every bAbI task's stories; the harness's haystack books and stories are never used.
import fs from 'node:fs';
import path from 'node:path';
import { padPrompt } from '../../models/model/alignment.js';
import type { ModelConfig } from '../../models/model/config.js';
import { randomSource } from '../../models/util/random.js';
import type { Tokenizer } from '../../models/tokenizer/index.js';
import { babilongSamples, parseBabi, sniahSamples, splitStories, type Sample } from '../ask/eval.js';
import { answerPrompt, focusContext } from '../ask/prompt.js';

export interface AnswerExample {
  /** what the model reads, as the app writes it */
  prompt: string;
  /** what it should write after it: " <answer>\n" */
  target: string;
  task: string;
}

/** An example as the app would ask it: the context is what focusContext keeps of the sample. */
export function answerExample(s: Pick<Sample, 'text' | 'question' | 'answer' | 'task'>): AnswerExample {
  return { prompt: answerPrompt(focusContext([s.text], s.question), s.question), target: ` ${s.answer}\n`, task: s.task };
}

/** Token ids and per-target weights: 1 on the answer's tokens (targets from answerFrom on),
 * `contextWeight` on the prompt's; the prompt padded as the app pads it for `model` (padPrompt, read
 * from the start). */
export function tokenizeExample(tokenizer: Tokenizer, ex: AnswerExample, contextWeight: number, model: Pick<ModelConfig, 'arch' | 'segment'>): { ids: Int32Array; weights: Float32Array; answerFrom: number } {
  const prompt = padPrompt(model, tokenizer.encode(ex.prompt).ids, 0, tokenizer.encode(' ').ids[0]!);
  const target = tokenizer.encode(ex.target).ids;
  const ids = Int32Array.from([...prompt, ...target]);
  // weights[t] belongs to predicting ids[t + 1] from ids[0..t]
  const weights = new Float32Array(ids.length - 1).fill(contextWeight);
  const answerFrom = prompt.length - 1;
  weights.fill(1, answerFrom);
  return { ids, weights, answerFrom };
}

/** Needle and bAbI examples built from training text only (see the header), in a seeded order. */
export function answerTuningExamples(o: { englishBooks: string; dataDir: string; count: number; seed: number; lengths?: number[]; needleShare?: number }): AnswerExample[] {
  const babiDir = path.join(o.dataDir, 'babi/en-10k');
  const lengths = o.lengths ?? [1000, 2000, 4000];
  const needles = Math.round(o.count * (o.needleShare ?? 0.3));
  const perLength = (n: number) => Math.max(1, Math.ceil(n / lengths.length));
  const words = (f: string) => fs.readFileSync(path.join(o.dataDir, 'ruler', f), 'utf8').split('\n').map((w) => w.trim()).filter(Boolean);
  const samples: Sample[] = sniahSamples({ lengths, perLength: perLength(needles), adjectives: words('wonderwords_adjectivelist.txt'), nouns: words('wonderwords_nounlist.txt'), book: o.englishBooks, seed: o.seed });
  const files = fs.readdirSync(babiDir).filter((f) => f.endsWith('_train.txt')).sort();
  const perTask = Math.ceil((o.count - needles) / Math.max(1, files.length));
  for (const [i, f] of files.entries()) {
    const stories = splitStories(parseBabi(fs.readFileSync(path.join(babiDir, f), 'utf8'))).train;
    const task = f.split('_')[0]!;
    samples.push(...babilongSamples({ task, stories, lengths, perLength: perLength(perTask), book: o.englishBooks, seed: o.seed + 100 + i }));
  }
  const next = randomSource(o.seed + 7);
  return samples
    .map((s) => ({ s, k: next() }))
    .sort((a, b) => a.k - b.k)
    .slice(0, o.count)
    .map(({ s }) => answerExample(s));
}
