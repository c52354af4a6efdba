// Answering: the focused context keeps the sentences that share the question's words; support,
// merging and exact match are checked on their own; and through the API with the real model
// worker, each book answers with its memory loaded, streamed, merged and kept in the history.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BookAnswer } from '../../../core/api/contract.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { mergeAnswers, supportedBy } from '../../../core/ask/answer.js';
import { answerPrompt, exactMatch, focusContext, normalizeAnswer } from '../../../core/ask/prompt.js';
import { promptPadding } from '../../../models/model/alignment.js';
import { answerSpans, PrefixTree } from '../../../core/ask/spans.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

const NEEDLE = 'One of the special magic numbers for quiet-harbor is: 4728151.';
const answer = (docId: number, title: string, text: string, supported: boolean): BookAnswer => ({ docId, title, text, citations: [0], supported, usedMemory: true, decoding: 'copy', firstTokenMs: 1, ms: 2 });

describe('the prompt', () => {
  it('keeps the sentences that share the most words with the question, in their order, within the limit', () => {
    const passage = `The rain fell all day on the roofs of the town. The magic harbor slept, quiet as ever. ${NEEDLE} The baker opened late. Nobody came to the harbor that night.`;
    const q = 'What is the special magic number for quiet-harbor?';
    expect(focusContext([passage], q, 80)).toBe(NEEDLE);
    // the needle shares 4 words, "The magic harbor..." 3 (kept: at least half), "Nobody came to the harbor" 1 (not)
    expect(focusContext([passage], q, 400)).toBe(`The magic harbor slept, quiet as ever. ${NEEDLE}`); // in document order
    // no sentence shares a word: the first ones, up to the limit
    expect(focusContext([passage], 'zzz?', 60)).toBe('The rain fell all day on the roofs of the town.');
    expect(answerPrompt(NEEDLE, 'Q?')).toBe(`Question: Q?\n${NEEDLE}\nAnswer:`);
  });

  it('pads a prompt so that the token written first sees a whole segment', () => {
    for (const [pos, length] of [[0, 10], [0, 63], [100, 250], [5, 1]] as const) {
      const pad = promptPadding({ arch: 'mac', segment: 64 }, pos, length);
      expect(pad).toBeGreaterThanOrEqual(0);
      expect(pad).toBeLessThan(64);
      // the prompt's last token sits at segment index 62; the space written after it at 63
      expect((pos + pad + length - 1) % 64).toBe(62);
    }
    expect(promptPadding({ arch: 'mag', segment: 64 }, 17, 30)).toBe(0); // no segments: no padding
  });

  it('scores exact match on the first word, without punctuation or case', () => {
    expect(exactMatch(' 4728151.', '4728151')).toBe(true);
    expect(exactMatch('Garden', 'garden')).toBe(true);
    expect(exactMatch('4728152', '4728151')).toBe(false);
    expect(exactMatch('', '')).toBe(false);
    expect(normalizeAnswer('  «kitchen», then')).toBe('kitchen');
  });

  it('calls an answer supported only when its words are in the passages', () => {
    expect(supportedBy('4728151', [NEEDLE])).toBe(true);
    expect(supportedBy('4728152', [NEEDLE])).toBe(false);
    expect(supportedBy('quiet harbor', [NEEDLE])).toBe(true);
    expect(supportedBy('', [NEEDLE])).toBe(false);
  });

  it('offers as answers the spans of up to 4 words within one sentence, without edge punctuation', () => {
    const spans = answerSpans(`${NEEDLE} Mary went to the kitchen.`);
    expect(spans).toEqual(expect.arrayContaining(['4728151', 'quiet-harbor', 'quiet-harbor is: 4728151', 'kitchen', 'Mary went to the', 'One']));
    expect(spans).not.toContain('4728151. Mary'); // never across sentences
    expect(spans).not.toContain('4728151.');
    expect(spans.some((s) => s.split(' ').length > 4)).toBe(false);
    expect(new Set(spans).size).toBe(spans.length);
    const tree = new PrefixTree([[1, 2, 3], [1, 4]]);
    expect(tree.next([]).sort()).toEqual([1]);
    expect(tree.next([1]).sort()).toEqual([2, 4]);
    expect(tree.next([1, 2, 3])).toEqual([]);
    expect(tree.next([5])).toEqual([]);
  });

  it('merges agreeing books into one answer and lists differing ones, supported first', () => {
    expect(mergeAnswers([answer(1, 'A', 'garden', true), answer(2, 'B', 'Garden.', true)])).toBe('garden');
    expect(mergeAnswers([answer(1, 'A', 'kitchen', false), answer(2, 'B', 'garden', true)])).toBe('garden (B); kitchen (A)');
    expect(mergeAnswers([answer(1, 'A', '', false)])).toBeNull();
  });
});

describe('answering through the API', () => {
  let dir: string;
  let core: Core;
  beforeAll(async () => {
    dir = tempDir('titans-answer-');
    const modelFile = await writeTinyReaderModel(dir);
    core = createCore({ dataDir: path.join(dir, 'data'), transport: 'in-process', reading: { modelFile, backend: 'wasm', stepTokens: 64 } });
  });
  afterAll(async () => {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers from each book with its memory, streams the text, and keeps the answer in the history', async () => {
    const api = createInProcessClient(core.server);
    const book = makeBook({ chapters: 3, paragraphsPerChapter: 8, seed: 4, title: 'Harbor' }).replace('CHAPTER 2\n\n', `CHAPTER 2\n\n${NEEDLE}\n\n`);
    const id = (await api.call('library.importPath', { path: writeFile(dir, 'harbor.txt', book) })).document.id;
    const q = 'What is the special magic number for quiet-harbor?';

    const unread = await api.call('ask.answer', { question: q });
    expect(unread.answers[0]!.usedMemory).toBe(false);

    await api.call('reading.start', { id });
    await core.reading.whenIdle();
    const pieces: string[] = [];
    let found = 0;
    const kinds: string[] = [];
    // the call's own stream: the passages first, then the answer's pieces (no other call's)
    const r = await api.call('ask.answer', { question: q }, {
      onChunk: (c) => {
        kinds.push(c.kind);
        if (c.kind === 'token') pieces.push(c.text);
        if (c.kind === 'found') found = c.citations.length;
      },
    });
    expect(found).toBe(r.citations.length);
    expect(kinds[0]).toBe('found');
    expect(kinds[1]).toBe('sentences');
    expect(kinds.slice(2).every((k) => k === 'token')).toBe(true);
    expect(r.citations[r.answers[0]!.citations[0]!]!.text).toContain(NEEDLE);
    const a = r.answers[0]!;
    expect(a).toMatchObject({ docId: id, title: 'Harbor', usedMemory: true, decoding: 'copy' });
    // copy decoding: even this untrained model's answer is words of its passages
    expect(a.text).not.toBe('');
    expect(a.citations.some((i) => r.citations[i]!.text.includes(a.text))).toBe(true);
    expect(a.supported).toBe(true);
    expect(a.firstTokenMs).toBeGreaterThan(0);
    expect(a.firstTokenMs!).toBeLessThanOrEqual(a.ms);
    expect(pieces.length).toBeGreaterThan(0);
    // the streamed pieces are the answer as it was written (broken bytes and control characters aside)
    const clean = (s: string) => s.replace(/[\u0000-\u0008\u000B-\u001F\u007F\uFFFD]/gu, '').trim();
    expect(clean(pieces.join(''))).toBe(a.text);
    expect(a.supported).toBe(supportedBy(a.text, a.citations.map((i) => r.citations[i]!.text)));
    expect(r.merged).toBe(a.text === '' ? null : a.text);
    const [h] = await api.call('ask.history', { limit: 1 });
    expect(h!.answer).toEqual({ merged: r.merged, answers: r.answers });

    const ablation = await api.call('ask.answer', { question: q, memory: false });
    expect(ablation.answers[0]!.usedMemory).toBe(false);
    const free = await api.call('ask.answer', { question: q, decoding: 'free' });
    expect(free.answers[0]!.decoding).toBe('free');

    expect(r.answerError).toBeNull();
    const none = await api.call('ask.answer', { question: 'zzzqqq xylophone' });
    expect(none).toMatchObject({ notFound: true, answers: [], merged: null });
  });
});

describe('answering without a usable model', () => {
  it('still returns the passages, and says why there is no answer', async () => {
    const dir = tempDir('titans-answer-nomodel-');
    const bad = writeFile(dir, 'broken.trd', 'not a model');
    const core = createCore({ dataDir: path.join(dir, 'data'), transport: 'in-process', reading: { modelFile: bad, backend: 'wasm' } });
    try {
      const api = createInProcessClient(core.server);
      await api.call('library.importPath', { path: writeFile(dir, 'h.txt', `Intro.\n\n${NEEDLE}\n\nThe end.`) });
      const r = await api.call('ask.answer', { question: 'special magic number quiet-harbor' });
      expect(r.citations[0]!.text).toContain(NEEDLE);
      expect(r.answers).toEqual([]);
      expect(r.answerError).toMatch(/not a usable Titans model/);
    } finally {
      await core.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
