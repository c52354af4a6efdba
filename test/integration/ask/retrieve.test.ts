// Retrieval for Ask on a real library: FTS5 BM25 finds the planted fact and cites it exactly,
// restricted to the chosen books; reciprocal rank fusion with the books' memories, checked by its
// formula; and through the API with the real worker, the memories rank the books.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { familiarityFrom, ftsQuery, RERANK_CANDIDATES, retrieve, RRF_K } from '../../../core/ask/retrieve.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { cli } from '../cli/run-cli.js';

let dir: string;
let modelFile: string;
let core: Core;
let a: number;
let b: number;
const FACT_A = 'The keeper named his grey cat Marmalade after the jam his mother made.';
const FACT_B = 'The ferry to the island left at seven and never carried more than nine cats.';
const bookA = makeBook({ chapters: 4, paragraphsPerChapter: 10, seed: 41, title: 'Book A' }).replace('CHAPTER 3\n\n', `CHAPTER 3\n\n${FACT_A}\n\n`);
const bookB = makeBook({ chapters: 4, paragraphsPerChapter: 10, seed: 42, title: 'Book B' }).replace('CHAPTER 2\n\n', `CHAPTER 2\n\n${FACT_B}\n\n`);

beforeAll(async () => {
  dir = tempDir('titans-ask-');
  modelFile = await writeTinyReaderModel(dir);
  core = createCore({ dataDir: path.join(dir, 'data'), transport: 'in-process', reading: { modelFile, backend: 'wasm', stepTokens: 64 } });
  const api = createInProcessClient(core.server);
  a = (await api.call('library.importPath', { path: writeFile(dir, 'a.txt', bookA) })).document.id;
  b = (await api.call('library.importPath', { path: writeFile(dir, 'b.txt', bookB) })).document.id;
}, 60_000);
afterAll(async () => {
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('retrieval', () => {
  it('cites the passage that holds the fact, with its place, and only in the chosen books', () => {
    const r = retrieve(core.db, 'What did the keeper name his cat?', { top: 3 });
    const top = r.citations[0]!;
    expect(top.docId).toBe(a);
    expect(top.text).toContain(FACT_A);
    expect(bookA.slice(top.start, top.end)).toBe(top.text);
    expect(top.chapter).toBe('CHAPTER 3');
    expect(bookA.slice(0, top.start).split('\n').length).toBe(top.line);
    expect(r.usedMemory).toBe(false);
    const onlyB = retrieve(core.db, 'What did the keeper name his cat?', { top: 3, ids: [b] });
    expect(onlyB.citations.every((c) => c.docId === b)).toBe(true);
    expect(onlyB.citations.some((c) => c.text.includes('Marmalade'))).toBe(false);
  });

  it('finds nothing for words no book holds, and takes questions with FTS syntax as plain words', () => {
    expect(retrieve(core.db, 'xylophone zeppelin', { top: 3 }).citations).toEqual([]);
    expect(retrieve(core.db, '?? !!', { top: 3 }).citations).toEqual([]);
    expect(ftsQuery('cat* NEAR("jam" OR) -"keeper')).toBe('"cat" OR "near" OR "jam" OR "keeper"');
    expect(retrieve(core.db, 'cat* NEAR("jam" OR)', { top: 1 }).citations[0]!.text).toContain('Marmalade');
  });

  it("fuses BM25 ranks with the books' memory ranks by reciprocal rank fusion", () => {
    const plain = retrieve(core.db, 'cat cats', { top: 10 }).citations;
    expect(plain.map((c) => c.docId).slice(0, 2).sort()).toEqual([a, b].sort());
    const familiarity = [
      { docId: b, familiarity: 0.5 },
      { docId: a, familiarity: 0.1 },
    ];
    const fused = retrieve(core.db, 'cat cats', { top: 10, familiarity });
    expect(fused.usedMemory).toBe(true);
    for (const c of fused.citations) {
      expect(c.memoryRank).toBe(c.docId === b ? 1 : 2);
      expect(c.score).toBeCloseTo(1 / (RRF_K + c.bm25Rank) + 1 / (RRF_K + c.memoryRank!), 12);
    }
    expect(fused.citations.map((c) => c.score)).toEqual([...fused.citations.map((c) => c.score)].sort((x, y) => y - x));
    expect(familiarityFrom([{ docId: null, memLoss: [2, 4] }, { docId: 7, memLoss: [1, 2] }, { docId: 8, memLoss: [null, null] }])).toEqual([{ docId: 7, familiarity: 1.5 }]);
  });

  it("through the API, the read books' memories rank the books", async () => {
    const api = createInProcessClient(core.server);
    for (const id of [a, b]) await api.call('reading.start', { id });
    await core.reading.whenIdle();
    const r = await api.call('ask.retrieve', { question: 'What did the keeper name his cat?', top: 5 });
    expect(r.notFound).toBe(false);
    expect(r.usedMemory).toBe(true);
    expect(r.citations[0]!.text).toContain('Marmalade');
    expect(new Set(r.citations.map((c) => c.memoryRank))).toEqual(new Set([1, 2]));
    expect(r.citations.every((c) => c.modelRank === null)).toBe(true);
    // rerank: the model scores the first RERANK_CANDIDATES passages with their book's memory; each
    // of them gains the third RRF term, and the order follows the fused score
    const q = 'keeper cat cats ferry island';
    const plain = await api.call('ask.retrieve', { question: q, top: 20 });
    const reranked = await api.call('ask.retrieve', { question: q, top: 20, rerank: true });
    const ranks = reranked.citations.map((c) => c.modelRank).filter((x): x is number => x !== null);
    expect(ranks.sort((x, y) => x - y)).toEqual(Array.from({ length: Math.min(RERANK_CANDIDATES, plain.citations.length) }, (_, i) => i + 1));
    for (const c of reranked.citations) {
      const before = plain.citations.find((p) => p.docId === c.docId && p.start === c.start)!;
      expect(c.score).toBeCloseTo(before.score + (c.modelRank ? 1 / (RRF_K + c.modelRank) : 0), 12);
    }
    expect(reranked.citations.map((c) => c.score)).toEqual([...reranked.citations.map((c) => c.score)].sort((x, y) => y - x));
    const none = await api.call('ask.retrieve', { question: 'xylophone zeppelin' });
    expect(none).toMatchObject({ notFound: true, citations: [] });
  }, 120_000);

  it('keeps the questions asked: newest first, searchable, deletable', async () => {
    const api = createInProcessClient(core.server);
    await api.call('ask.forget', {});
    const q1 = await api.call('ask.retrieve', { question: 'What did the keeper name his cat?', memory: false });
    const q2 = await api.call('ask.retrieve', { question: 'When did the ferry leave?', ids: [b], memory: false });
    const all = await api.call('ask.history', {});
    expect(all.map((h) => h.id)).toEqual([q2.historyId, q1.historyId]);
    expect(all[0]).toMatchObject({ question: 'When did the ferry leave?', docIds: [b] });
    expect(all[1]!.docIds).toBeNull();
    expect(all[1]!.citations[0]!.text).toContain('Marmalade');
    expect((await api.call('ask.history', { query: 'ferry' })).map((h) => h.id)).toEqual([q2.historyId]);
    expect(await api.call('ask.history', { query: 'zeppelin' })).toEqual([]);
    expect((await api.call('ask.forget', { id: q2.historyId })).forgotten).toBe(1);
    expect((await api.call('ask.history', { query: 'ferry' }))).toEqual([]);
    expect((await api.call('ask.history', {})).map((h) => h.id)).toEqual([q1.historyId]);
    expect((await api.call('ask.forget', {})).forgotten).toBe(1);
    expect(await api.call('ask.history', {})).toEqual([]);
  });

  it('answers from the command line with citations, and says when nothing is found', async () => {
    const data = path.join(dir, 'data');
    const r = await cli('ask', 'What did the keeper name his cat?', '--top', '2', '--data', data, '--model', modelFile, '--backend', 'wasm');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`[1] #${a} “Book A”, “CHAPTER 3”, line `);
    expect(r.out).toContain('Marmalade');
    expect(r.out).toMatch(/Book A: .+ — taken from \[\d\]/); // the answer names the passage holding it
    // first the sentence that answers, with its citation, and a short answer or the warning
    expect(r.out).toMatch(new RegExp(`^Answer: “[^”]*Marmalade[^”]*”\\n    — #${a} “Book A”, “CHAPTER 3”, line \\d+, characters \\d+-\\d+, in passage \\[1\\]; \\d+% sure it answers`, 'm'));
    expect(r.out).toMatch(/^(Short answer: .+ \(\d+% sure\)|No short answer: the passages below may hold the answer\.)$/m);
    expect(r.out.indexOf('Answer: “')).toBeLessThan(r.out.indexOf('[1] #'));
    const reranked = await cli('ask', 'What did the keeper name his cat?', '--rerank', '--passages', '--data', data, '--model', modelFile, '--backend', 'wasm');
    expect(reranked.code, reranked.err).toBe(0);
    expect(reranked.out).toContain(', reranked by the model:');
    expect(reranked.out).toContain('Marmalade');
    const onlyB = await cli('ask', 'Marmalade', '--books', String(b), '--data', data, '--model', modelFile, '--backend', 'wasm');
    expect(onlyB.out).toContain('Not found in these books');
  }, 60_000);
});
