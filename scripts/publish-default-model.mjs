#!/usr/bin/env node
// After `npm run train:base`: put models/default/titans-mac-base.trd (and its card) on the
// `model-weights` branch as a single parentless commit that replaces the previous one, and pin it
// in models/default/model.json (commit that file on main). Git plumbing only: the working tree and
// the current branch are untouched. Old weights become unreachable and are pruned by git gc.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'models', 'default');
const FILE = 'titans-mac-base.trd';
const BRANCH = 'model-weights';
const git = (args, input) => execFileSync('git', args, { cwd: root, input, maxBuffer: 512 * 1024 * 1024 }).toString().trim();

const model = path.join(dir, FILE);
if (!fs.existsSync(model)) {
  console.error(`${model} is missing: train it first (npm run train:base).`);
  process.exit(2);
}
const bytes = fs.readFileSync(model);
const metrics = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
const entries = [[FILE, git(['hash-object', '-w', model])]];
const card = path.join(dir, 'MODEL_CARD.md');
if (fs.existsSync(card)) entries.push(['MODEL_CARD.md', git(['hash-object', '-w', card])]);
const tree = git(['mktree'], entries.map(([name, blob]) => `100644 blob ${blob}\t${name}\n`).join(''));
const commit = git(['commit-tree', tree, '-m', `Default model: ${metrics.name}, ${metrics.steps} steps (${FILE})`]);
git(['update-ref', `refs/heads/${BRANCH}`, commit]);
const pin = { name: metrics.name, file: FILE, path: FILE, branch: BRANCH, commit, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, steps: metrics.steps, parameters: metrics.parameters };
fs.writeFileSync(path.join(dir, 'model.json'), `${JSON.stringify(pin, null, 2)}\n`);
console.log(`${BRANCH} -> ${commit.slice(0, 12)} (${(bytes.length / 1024 / 1024).toFixed(1)} MB); models/default/model.json pins sha256 ${pin.sha256.slice(0, 12)}… — commit it on main.`);
