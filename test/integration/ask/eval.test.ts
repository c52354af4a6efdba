// The evaluation harness on small settings: samples are well-formed (the needle or the facts are
// in the text, at their depth), bAbI parses, retrieval recall is scored per length, and
// `npm run eval` runs end to end on a small generated corpus laid out like ../shared/data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { babilongSamples, evaluateRetrieval, parseBabi, sniahSamples, summarizeResults } from '../../../core/ask/eval.js';
import { openDatabase } from '../../../core/library/database.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');
const STORY = `1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Daniel went back to the hallway.
5 Sandra moved to the garden.
6 Where is Daniel? \thallway\t4
1 John travelled to the office.
2 Mary journeyed to the kitchen.
3 Where is John? \toffice\t1
`;
let dir: string;
beforeAll(() => (dir = tempDir('titans-eval-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the evaluation harness', () => {
  it('parses bAbI stories with the facts before each question and its supporting facts', () => {
    const s = parseBabi(STORY);
    expect(s).toHaveLength(3);
    expect(s[1]).toMatchObject({ question: 'Where is Daniel?', answer: 'hallway', supporting: ['Daniel went back to the hallway.'] });
    expect(s[1]!.facts).toEqual(['Mary moved to the bathroom.', 'John went to the hallway.', 'Daniel went back to the hallway.', 'Sandra moved to the garden.']);
    expect(s[2]!.facts).toEqual(['John travelled to the office.', 'Mary journeyed to the kitchen.']);
  });

  it('hides the needle at its depth and the facts in order, and scores retrieval per length', async () => {
    const book = makeBook({ chapters: 10, paragraphsPerChapter: 30, seed: 61 });
    const needles = sniahSamples({ lengths: [1000, 4000], perLength: 3, adjectives: ['quiet', 'amber'], nouns: ['falcon', 'harbour'], book, seed: 1 });
    expect(needles).toHaveLength(6);
    for (const s of needles) {
      const at = s.text.indexOf(s.evidence[0]!) / s.text.length;
      expect(Math.abs(at - s.depth)).toBeLessThan(0.1);
      expect(s.evidence[0]).toContain(s.answer);
      expect(s.answer).toMatch(/^\d{7}$/);
    }
    const stories = babilongSamples({ task: 'qa1', stories: parseBabi(STORY), lengths: [2000], perLength: 4, book, seed: 2 });
    for (const s of stories) {
      const positions = s.evidence.map((e) => s.text.indexOf(e));
      expect(positions.every((p) => p >= 0)).toBe(true);
    }
    const db = openDatabase(path.join(dir, 'eval.sqlite'));
    try {
      const results = await evaluateRetrieval(db, dir, [...needles, ...stories], [1, 5]);
      const byLength = summarizeResults(results, [1, 5]);
      expect(byLength.map((r) => [r.length, r.n])).toEqual([
        [1000, 3],
        [2000, 4],
        [4000, 3],
      ]);
      for (const r of byLength) expect(r.recall[5]).toBeGreaterThanOrEqual(r.recall[1]!);
      // a needle with a unique key is found at once
      expect(results.slice(0, 6).every((r) => r.recall[1])).toBe(true);
    } finally {
      db.close();
    }
  });

  it('runs as `npm run eval` on a small corpus laid out like ../shared/data, retrieval only and answering', async () => {
    const data = path.join(dir, 'data');
    fs.mkdirSync(path.join(data, 'ruler'), { recursive: true });
    fs.mkdirSync(path.join(data, 'babi/en-10k'), { recursive: true });
    fs.mkdirSync(path.join(data, 'books/en'), { recursive: true });
    fs.writeFileSync(path.join(data, 'ruler/wonderwords_adjectivelist.txt'), 'quiet\namber\nbrisk\n');
    fs.writeFileSync(path.join(data, 'ruler/wonderwords_nounlist.txt'), 'falcon\nharbour\nlantern\n');
    fs.writeFileSync(path.join(data, 'babi/en-10k/qa1_single-supporting-fact_train.txt'), STORY);
    const book = makeBook({ chapters: 10, paragraphsPerChapter: 30, seed: 62 });
    fs.writeFileSync(path.join(data, 'books/en/book.txt'), book);
    fs.writeFileSync(path.join(data, 'books/gitenberg_manifest.json'), JSON.stringify([{ file: 'books/en/book.txt', lang: 'en', body_start_line: 3, body_end_line: book.split('\n').length }]));
    const out = path.join(dir, 'results');
    for (const args of [['sniah', '--haystack', 'book'], ['babilong', '--tasks', 'qa1,qa3']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', ...args, '--data', data, '--lengths', '1000,2000', '--n', '3', '--out', out], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\| task \| length .*\| recall@1 \| recall@5 \| ms\/question \|/);
      expect(r.stdout.match(/^\| (sniah-book|qa1) \| (1000|2000) \| 3 \| \d+% \| \d+% \| [\d.]+ \|$/gm)).toHaveLength(2);
      if (args[0] === 'babilong') expect(r.stderr).toContain('qa3: not in');
    }
    const files = fs.readdirSync(out);
    expect(files).toHaveLength(2);
    const json = JSON.parse(fs.readFileSync(path.join(out, files.find((f) => f.startsWith('sniah'))!), 'utf8')) as { rows: unknown[]; retrieval: string };
    expect(json.retrieval).toBe('fts5-bm25');
    expect(json.rows).toHaveLength(2);
    // --answer: each sample read into memory and answered by the model through the app's API
    const model = await writeTinyReaderModel(dir);
    const ans = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', 'sniah', '--answer', '--model', model, '--backend', 'wasm', '--data', data, '--lengths', '600,1200', '--n', '2', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(ans.status, ans.stderr).toBe(0);
    expect(ans.stdout).toContain('answers by tiny test model (untrained), decoding kept to spans of the passages (0.06M parameters, untrained), wasm backend');
    expect(ans.stdout.match(/^\| sniah-noise \| (600|1200) \| 2 \| \d+% \| \d+% \| \d+% \| [\d.]+ s \| [\d.]+ \| \d+ \|$/gm)).toHaveLength(2);
    const answers = JSON.parse(fs.readFileSync(path.join(out, fs.readdirSync(out).find((f) => f.includes('-answers-'))!), 'utf8')) as { results: Array<{ answer: string; expected: string; correct: boolean; recall: Record<string, boolean> }> };
    expect(answers.results).toHaveLength(4);
    for (const r of answers.results) {
      expect(r.expected).toMatch(/^\d{7}$/);
      expect(r.correct).toBe(r.answer.trim().split(/\s+/)[0]!.replace(/\W+$/, '') === r.expected);
      expect(r.recall['5']).toBe(true); // a 600-character text is one or two passages
    }
    const missing = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', 'sniah', '--data', path.join(dir, 'nowhere')], { cwd: root, encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/is missing\. Give the data folder with --data DIR/);
  }, 120_000);
});
