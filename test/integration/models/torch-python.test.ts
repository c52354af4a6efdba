// The PyTorch side's own tests (train/torch/tests: TypeScript -> PyTorch parity, the model's
// invariants, checkpoints, the trainer), run inside `npm test` wherever Debian's python3-torch is
// installed (.ci/run installs it): `/usr/bin/python3 -m unittest discover -s train/torch/tests`.
// Without torch for /usr/bin/python3 they fail and say what to install (TITANS_SKIP_TORCH=1 skips).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const PYTHON = process.env.TITANS_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
// Without torch this fails (CI installs it), unless the run says so: TITANS_SKIP_TORCH=1.
const skipTorch = process.env.TITANS_SKIP_TORCH === '1';
const needTorch = () => expect(hasTorch, `${PYTHON} cannot import torch: apt-get install python3-torch libopenblas0-pthread, or set TITANS_SKIP_TORCH=1`).toBe(true);

describe('train/torch (PyTorch)', () => {
  it.skipIf(skipTorch)('passes its unittest suite', () => {
    needTorch();
    const r = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'train/torch/tests'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 240_000,
    });
    if (r.status !== 0) console.error(r.stdout, r.stderr);
    expect(r.error).toBeUndefined();
    expect(r.stderr).toMatch(/\nOK/);
    expect(r.status).toBe(0);
  }, 250_000);
});
