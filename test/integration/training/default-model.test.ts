// The default model lives in main's tree (models/default/), pinned by sha256 in model.json with
// its loss on models/default/check.txt. These tests fail when the tracked file is missing, does
// not match its pin, or is untrained (its loss on the check text is not far below a fresh
// model's), and check that scripts/verify-default-model.mjs says so.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { modelFromCheckpoint } from '../../../models/model/io.js';
import { TitansModel } from '../../../models/model/model.js';
import { checkTextLoss, MAX_DEFAULT_MODEL_BYTES, shippedModelFile, type DefaultModelPin } from '../../../models/default/default-model.js';
import { useBackend } from '../../helpers/models.js';
import { tempDir } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');
const dir = path.join(root, 'models/default');
const pin = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as DefaultModelPin;
const file = path.join(dir, pin.file);
const verify = (modelDir: string, ...args: string[]) => {
  // the script checks the models/default folder next to its own scripts/ folder: run a copy
  const scripts = path.join(path.dirname(path.dirname(modelDir)), 'scripts');
  fs.mkdirSync(scripts, { recursive: true });
  fs.copyFileSync(path.join(root, 'scripts/verify-default-model.mjs'), path.join(scripts, 'verify-default-model.mjs'));
  return spawnSync(process.execPath, [path.join(scripts, 'verify-default-model.mjs'), ...args], { encoding: 'utf8' });
};

beforeAll(() => useBackend('cpu'));

describe('the default model in main’s tree', () => {
  it('is tracked by git, matches its sha256 pin and stays within the size limit', () => {
    expect(execFileSync('git', ['ls-files', '--error-unmatch', path.relative(root, file)], { cwd: root, encoding: 'utf8' }).trim()).toBe(`models/default/${pin.file}`);
    const bytes = fs.readFileSync(file);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(pin.sha256);
    expect(bytes.length).toBe(pin.bytes);
    expect(bytes.length).toBeLessThanOrEqual(MAX_DEFAULT_MODEL_BYTES);
    expect(shippedModelFile({})).toBe(file);
  });

  it('is trained: its loss on the held-out check text is the pinned one, far below a fresh model’s', () => {
    const { model, tokenizer, meta } = modelFromCheckpoint(decodeCheckpoint(fs.readFileSync(file)));
    const text = fs.readFileSync(path.join(dir, pin.check.file), 'utf8');
    try {
      expect(meta.trained).toBe(true);
      const loss = checkTextLoss(model, tokenizer, text);
      expect(Math.abs(loss - pin.check.lossPerByte)).toBeLessThan(2e-3);
      const fresh = new TitansModel(model.config, { seed: 1 });
      const untrained = checkTextLoss(fresh, tokenizer, text);
      fresh.dispose();
      expect(Math.abs(untrained - pin.check.untrainedLossPerByte)).toBeLessThan(2e-3);
      // an untrained model scores about ln(vocabulary) nats per token (per byte: times the tokens
      // per byte, 1 for the byte-level tokenizer); a trained one far less
      const tokensPerByte = tokenizer.encode(text).ids.length / Buffer.byteLength(text, 'utf8');
      expect(untrained).toBeGreaterThan(0.9 * Math.log(tokenizer.vocabSize) * tokensPerByte);
      expect(loss).toBeLessThan(0.6 * untrained);
    } finally {
      model.dispose();
    }
  }, 240_000); // two full passes over the check text on the cpu backend: ~95 s under a parallel test run
});

describe('scripts/verify-default-model.mjs', () => {
  let work: string;
  beforeAll(() => {
    work = tempDir('titans-verify-');
    fs.mkdirSync(path.join(work, 'models/default'), { recursive: true });
    for (const f of ['model.json', pin.file]) fs.copyFileSync(path.join(dir, f), path.join(work, 'models/default', f));
  });

  it('verifies the real pin', () => {
    const r = verify(path.join(work, 'models/default'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${pin.file} verified`);
  });

  it('names a changed file and what to do, failing unless --never-fail (npm install)', () => {
    const target = path.join(work, 'models/default', pin.file);
    const bytes = fs.readFileSync(target);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    fs.writeFileSync(target, bytes);
    let r = verify(path.join(work, 'models/default'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('does not match its pin');
    expect(r.stdout).toContain('npm run model:pin');
    r = verify(path.join(work, 'models/default'), '--never-fail');
    expect(r.status).toBe(0);
    fs.rmSync(target);
    r = verify(path.join(work, 'models/default'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('is missing');
    expect(r.stdout).toContain('git checkout -- models/default');
  });
});
