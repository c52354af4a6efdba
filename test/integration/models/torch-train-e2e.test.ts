// End to end on the CPU: train/torch/gpu-run.sh trains a tiny model in PyTorch for half a minute
// (train/torch/configs/tiny.json) on a corpus in the exported format (scripts/export-corpus.ts),
// the app imports the result with `titans-reader model import`, and reads a book with it.
// Runs wherever /usr/bin/python3 has torch (.ci/run installs Debian's python3-torch); ~45 s.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../cli/run-cli.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');
const PYTHON = process.env.TITANS_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
// Without torch this fails (CI installs it), unless the run says so: TITANS_SKIP_TORCH=1.
const skipTorch = process.env.TITANS_SKIP_TORCH === '1';
const needTorch = () => expect(hasTorch, `${PYTHON} cannot import torch: apt-get install python3-torch libopenblas0-pthread, or set TITANS_SKIP_TORCH=1`).toBe(true);
const dir = tempDir('titans-torch-e2e-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** a corpus folder as scripts/export-corpus.ts writes it, from generated books */
function writeCorpus(at: string): void {
  fs.mkdirSync(at, { recursive: true });
  const jsonl = (name: string, rows: object[]) => fs.writeFileSync(path.join(at, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const train = [1, 2, 3, 4].map((seed) => ({ source: `book${seed}.txt`, lang: 'en', text: makeBook({ chapters: 3, paragraphsPerChapter: 8, seed }) }));
  const held = [{ lang: 'en', text: makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 99 }) }];
  jsonl('train.jsonl', train);
  jsonl('heldout.jsonl', held);
  jsonl('heldout-mix.jsonl', held.map((h) => ({ lang: h.lang, text: h.text.slice(0, 200_000) })));
  fs.writeFileSync(path.join(at, 'meta.json'), '{"from": "test/integration/models/torch-train-e2e.test.ts"}\n');
}

describe('PyTorch training to the app', () => {
  it.skipIf(skipTorch)('gpu-run.sh trains a tiny model on the CPU; the app imports it and reads a book with it', async () => {
    needTorch();
    const corpus = path.join(dir, 'corpus');
    const run = path.join(dir, 'run');
    writeCorpus(corpus);
    const r = spawnSync('bash', ['train/torch/gpu-run.sh', run, '0.5', '--threads', '1'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PYTHON, TITANS_GPU_CONFIG: 'train/torch/configs/tiny.json', TITANS_CORPUS: corpus, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 120_000,
    });
    if (r.status !== 0) console.error(r.stdout, r.stderr);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/held-out\s+nats\/token\s+bits\/byte/);
    for (const f of ['model.trd', 'model.safetensors', 'metrics.json', 'log.jsonl', 'run.log']) expect(fs.existsSync(path.join(run, f)), f).toBe(true);
    const metrics = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8'));
    expect(metrics.split).toBe('exported');
    expect(metrics.steps).toBeGreaterThan(10);
    expect(metrics.tokensPerSecond).toBeGreaterThan(0);
    expect(metrics.heldOut.en.bitsPerByte).toBeLessThan(8); // below uniform over bytes
    const steps = fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type === 'step');
    expect(steps.at(-1).loss).toBeLessThan(steps[0].loss);

    const model = path.join(dir, 'imported.trd');
    const imported = await cli('model', 'import', path.join(run, 'model.safetensors'), model);
    expect(imported.err).toBe('');
    expect(imported.out).toMatch(/a Titans MAC model, [\d,]+ parameters/);
    const data = path.join(dir, 'library');
    const book = writeFile(dir, 'book.txt', makeBook({ chapters: 2, paragraphsPerChapter: 3, seed: 7, title: 'Read by PyTorch' }));
    const read = await cli('import', book, '--read', '--data', data, '--model', model, '--backend', 'wasm');
    expect(read.code).toBe(0);
    expect(`${read.out}\n${read.err}`).toMatch(/Read “Read by PyTorch” into memory: done/); // progress goes to stderr
    expect(read.err).not.toMatch(/error/i);
    const surprising = await cli('surprise', '1', '--top', '3', '--data', data, '--model', model, '--backend', 'wasm');
    expect(surprising.code).toBe(0);
  }, 180_000);
});
