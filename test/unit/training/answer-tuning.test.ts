// Answer tuning's data: every example is the prompt the app writes (focusContext, then the
// question, padded to the segment as the worker pads it), weighted on the answer; and it is made
// from the training split only: a story of the held-out 10% never appears.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerExample, answerTuningExamples, tokenizeExample } from '../../../core/training/answer-tuning.js';
import { answerPrompt, focusContext } from '../../../core/ask/prompt.js';
import { ByteTokenizer } from '../../../models/tokenizer/index.js';
import { makeBook, tempDir } from '../../fixtures/texts.js';

const NAMES = ['Mary', 'John', 'Daniel', 'Sandra', 'Fred', 'Bill', 'Julie', 'Emily', 'Jason', 'Yann'];
const PLACES = ['kitchen', 'garden', 'office', 'hallway', 'bathroom', 'bedroom', 'cinema', 'park', 'school', 'garage'];

/** 40 stories whose facts are unique (a name and place per story number), in the bAbI file format. */
function babiFile(): string {
  let out = '';
  for (let s = 0; s < 40; s++) {
    const who = `${NAMES[s % 10]}${s}`;
    const where = PLACES[(s * 3) % 10]!;
    out += `1 ${who} went to the ${where}.\n2 Someone${s} moved to the park.\n3 Where is ${who}? \t${where}\t1\n`;
  }
  return out;
}

let dir: string;
beforeAll(() => {
  dir = tempDir('titans-answer-tuning-');
  fs.mkdirSync(path.join(dir, 'babi/en-10k'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'ruler'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'babi/en-10k/qa1_single-supporting-fact_train.txt'), babiFile());
  fs.writeFileSync(path.join(dir, 'ruler/wonderwords_adjectivelist.txt'), 'quiet\namber\nbrave\n');
  fs.writeFileSync(path.join(dir, 'ruler/wonderwords_nounlist.txt'), 'falcon\nharbour\nriver\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('answer tuning data', () => {
  it('writes each example as the app asks it, from training stories only', () => {
    const englishBooks = makeBook({ chapters: 8, paragraphsPerChapter: 20, seed: 3 });
    const examples = answerTuningExamples({ englishBooks, dataDir: dir, count: 60, seed: 5, lengths: [800], needleShare: 0.25 });
    expect(examples).toHaveLength(60);
    const needles = examples.filter((e) => e.task === 'sniah-book');
    expect(needles.length).toBeGreaterThan(5);
    for (const e of needles) {
      expect(e.target).toMatch(/^ \d{7}\n$/);
      expect(e.prompt).toContain(`is: ${e.target.trim()}.`); // the needle is in the focused context
    }
    const stories = examples.filter((e) => e.task === 'qa1');
    expect(stories.length).toBeGreaterThan(20);
    // stories 36..39 are the held-out 10%: none of their names appears anywhere
    for (const e of examples) for (const s of [36, 37, 38, 39]) expect(e.prompt).not.toContain(`${NAMES[s % 10]}${s} `);
    const q = stories[0]!.prompt.match(/^Question: (.*)\n/)![1]!;
    expect(stories[0]!.prompt.endsWith(`.\nAnswer:`)).toBe(true);
    expect(q).toMatch(/^Where is \w+\?$/);

    // the same as the app's prompt for the same sample
    const sample = { text: `A long day. ${'Fred1 went to the garden.'} Then night.`, question: 'Where is Fred1?', answer: 'garden', task: 'qa1' };
    expect(answerExample(sample)).toEqual({ prompt: answerPrompt(focusContext([sample.text], sample.question), sample.question), target: ' garden\n', task: 'qa1' });
  });

  it('weights the answer 1 and the prompt less, with the prompt padded to the segment', () => {
    const tok = new ByteTokenizer();
    const ex = { prompt: 'Question: Where is Fred?\nFred went to the park.\nAnswer:', target: ' park\n', task: 'qa1' };
    const { ids, weights, answerFrom } = tokenizeExample(tok, ex, 0.1, { arch: 'mac', segment: 64 });
    const text = tok.decode(Array.from(ids));
    expect(text.trimStart()).toBe(ex.prompt + ex.target);
    const promptEnd = text.length - ex.target.length; // index of the answer's first token
    expect(answerFrom).toBe(promptEnd - 1);
    expect((promptEnd - 1) % 64).toBe(62);
    expect(weights).toHaveLength(ids.length - 1);
    expect(Array.from(weights.slice(promptEnd - 1))).toEqual(Array(ex.target.length).fill(1));
    expect(weights.slice(0, promptEnd - 1).every((w) => Math.abs(w - 0.1) < 1e-7)).toBe(true);
  });
});
