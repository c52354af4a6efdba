import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpointFileSync } from '../../../models/checkpoint/format.js';
import { modelFromCheckpoint } from '../../../models/model/io.js';
import { cli } from './run-cli.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));


describe('titans-reader train', () => {
  it('trains a model on text files, writes it, and fine-tunes from it', async () => {
    const a = writeFile(dir, 'a.txt', makeBook({ chapters: 3, paragraphsPerChapter: 10, seed: 1 }));
    const b = writeFile(dir, 'b.md', makeBook({ chapters: 3, paragraphsPerChapter: 10, seed: 2 }));
    const target = path.join(dir, 'model.trd');
    const size = ['--dim', '16', '--layers', '1', '--heads', '2', '--segment', '16', '--seq', '16', '--batch', '2', '--backend', 'cpu'];
    const first = await cli('train', a, b, '--out', target, '--steps', '6', '--tokenizer', 'bpe:50', ...size);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/Held-out loss [\d.]+ -> [\d.]+ nats\/token/);
    const { model, tokenizer, meta } = modelFromCheckpoint(readCheckpointFileSync(target));
    expect(tokenizer.spec.kind).toBe('bpe');
    expect(meta.steps).toBe(6);
    model.dispose();
    const tuned = path.join(dir, 'tuned.trd');
    const second = await cli('train', a, '--from', target, '--out', tuned, '--steps', '2', ...size);
    expect(second.code).toBe(0);
    expect(second.out).toContain('Fine-tuning model.trd');
    expect(fs.existsSync(tuned)).toBe(true);
  });

  it('explains its usage when the output is missing', async () => {
    const r = await cli('train', 'x.txt');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--out PATH');
  });
});
