// `titans-reader finetune` and `models` on a real library with a tiny real model: a folder is
// fine-tuned on, the new version is listed with its parent and perplexity, selected, compared
// and deleted.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { cli } from './run-cli.js';

let dir: string;
let data: string;
beforeAll(async () => {
  dir = tempDir('titans-cli-ft-');
  data = path.join(dir, 'lib');
  process.env.TITANS_DEFAULT_MODEL = await writeTinyReaderModel(dir);
  fs.mkdirSync(path.join(dir, 'notes'));
  writeFile(path.join(dir, 'notes'), 'a.txt', makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 31 }));
});
afterAll(() => {
  delete process.env.TITANS_DEFAULT_MODEL;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the fine-tune and models commands', () => {
  it('fine-tunes on a folder, then lists, selects, compares and deletes versions', async () => {
    const usage = await cli('finetune', path.join(dir, 'notes'), '--data', data);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--name NAME');

    const ft = await cli('finetune', path.join(dir, 'notes'), '--name', 'Notes', '--steps', '12', '--seq', '32', '--lr', '0.01', '--data', data);
    expect(ft.code, ft.err).toBe(0);
    expect(ft.out).toMatch(/Fine-tuning “Notes” from tiny test model \(untrained\) on 1 text/);
    const m = /#1 “Notes”: done, step 12 of 12, held-out perplexity ([\d.]+) → ([\d.]+)/.exec(ft.out)!;
    expect(Number(m[2])).toBeLessThan(Number(m[1]));
    const id = /New model version (\w+)/.exec(ft.out)![1]!;

    const list = await cli('models', '--data', data);
    expect(list.out).toMatch(new RegExp(`${id}\\s+Notes\\s+tiny test model \\(untrained\\)\\s+0\\.06M\\s+12`));
    expect(list.out.split('\n').filter((l) => l.startsWith('*'))).toHaveLength(1);
    expect((await cli('finetune', 'list', '--data', data)).out).toContain('#1 “Notes”: done');

    expect((await cli('models', 'select', id, '--data', data)).code).toBe(0);
    expect((await cli('models', '--data', data)).out).toMatch(new RegExp(`^\\*\\s+${id}`, 'm'));
    const base = /^\s+(\w{16})\s+tiny test model/m.exec((await cli('models', '--data', data)).out)![1]!;
    const cmp = await cli('models', 'compare', base, id, '--text', 'The river ran past the old mill and the garden wall.', '--data', data);
    expect(cmp.code, cmp.err).toBe(0);
    expect(cmp.out).toMatch(/Notes\s+[\d.]+\s+[\d.]+/);
    const refused = await cli('models', 'delete', id, '--data', data);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('is the model that reads now');
    const del = await cli('models', 'delete', base, '--data', data);
    expect(del.out).toContain('Deleted');
  }, 120_000);
});
