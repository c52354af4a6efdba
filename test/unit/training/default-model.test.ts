// Shipping the default model without bloating main's history: publish puts the weights on a
// parentless commit of the model-weights branch and pins them in models/default/model.json;
// install (npm install / npm start) takes them from the branch, verifying the sha256, and says
// clearly what it did when it cannot. Both run in a scratch git repository laid out like ours.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');
let repo: string;
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
const node = (cwd: string, script: string) => spawnSync(process.execPath, [path.join(cwd, 'scripts', script)], { cwd, encoding: 'utf8' });

beforeAll(() => {
  repo = tempDir('titans-ship-');
  fs.mkdirSync(path.join(repo, 'scripts'));
  fs.mkdirSync(path.join(repo, 'models/default'), { recursive: true });
  for (const s of ['install-default-model.mjs', 'publish-default-model.mjs']) fs.copyFileSync(path.join(root, 'scripts', s), path.join(repo, 'scripts', s));
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 't@example.org');
  git(repo, 'config', 'user.name', 't');
  fs.writeFileSync(path.join(repo, '.gitignore'), 'models/default/*.trd\n');
  fs.writeFileSync(path.join(repo, 'models/default/titans-mac-base.trd'), Buffer.from('weights v1'));
  fs.writeFileSync(path.join(repo, 'models/default/metrics.json'), JSON.stringify({ name: 'Test base', steps: 10, parameters: 5 }));
  fs.writeFileSync(path.join(repo, 'models/default/MODEL_CARD.md'), '# card\n');
});
afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

describe('the shipped default model', () => {
  it('publishes the weights as one parentless commit and keeps them out of main', () => {
    const r = node(repo, 'publish-default-model.mjs');
    expect(r.status, r.stderr).toBe(0);
    const pin = JSON.parse(fs.readFileSync(path.join(repo, 'models/default/model.json'), 'utf8'));
    expect(pin).toMatchObject({ file: 'titans-mac-base.trd', branch: 'model-weights', bytes: 10, steps: 10 });
    expect(git(repo, 'rev-list', '--count', 'model-weights')).toBe('1');
    expect(git(repo, 'ls-tree', '--name-only', 'model-weights').split('\n').sort()).toEqual(['MODEL_CARD.md', 'titans-mac-base.trd']);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'pin');
    expect(git(repo, 'ls-tree', '-r', '--name-only', 'main')).not.toContain('titans-mac-base.trd');

    // a retrain replaces the commit: the branch never grows
    fs.writeFileSync(path.join(repo, 'models/default/titans-mac-base.trd'), Buffer.from('weights v2!'));
    expect(node(repo, 'publish-default-model.mjs').status).toBe(0);
    expect(git(repo, 'rev-list', '--count', 'model-weights')).toBe('1');
    git(repo, 'commit', '-qam', 'pin v2');
  });

  it('installs into a fresh clone from the branch, verified; refuses a mismatch; says what to do without it', () => {
    const clone = tempDir('titans-clone-');
    try {
      git(clone, 'clone', '-q', '--branch', 'main', repo, 'p');
      const p = path.join(clone, 'p');
      const target = path.join(p, 'models/default/titans-mac-base.trd');
      let r = node(p, 'install-default-model.mjs');
      expect(r.stdout).toContain('installed titans-mac-base.trd');
      expect(fs.readFileSync(target, 'utf8')).toBe('weights v2!');
      expect(node(p, 'install-default-model.mjs').stdout).toContain('is installed');

      // a local retrain is kept; an older model this script installed is updated
      fs.writeFileSync(target, 'my own retrain');
      expect(node(p, 'install-default-model.mjs').stdout).toContain('kept as it is');
      fs.writeFileSync(target, 'weights v1');
      fs.writeFileSync(path.join(p, 'models/default/.installed'), `${createHash('sha256').update('weights v1').digest('hex')}\n`);
      expect(node(p, 'install-default-model.mjs').stdout).toContain('older pinned model; updating it');
      expect(fs.readFileSync(target, 'utf8')).toBe('weights v2!');

      // main pins other bytes than the branch holds: nothing is installed
      fs.rmSync(target);
      const pinFile = path.join(p, 'models/default/model.json');
      const pin = JSON.parse(fs.readFileSync(pinFile, 'utf8'));
      fs.writeFileSync(pinFile, JSON.stringify({ ...pin, sha256: '0'.repeat(64), commit: undefined }));
      r = node(p, 'install-default-model.mjs');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('holds another version of the model than main pins');
      expect(fs.existsSync(target)).toBe(false);

      // a clone without the branch (and an origin that lacks it)
      fs.writeFileSync(pinFile, JSON.stringify({ ...pin, branch: 'no-such-branch', commit: undefined }));
      r = node(p, 'install-default-model.mjs');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('untrained model until then');
    } finally {
      fs.rmSync(clone, { recursive: true, force: true });
    }
  });
});
