#!/usr/bin/env node
// Installs the shipped default model into models/default/ (npm install and npm start run this).
// The weights live on the repository's `model-weights` branch, one commit replaced on every
// retrain (so main's history never carries them); models/default/model.json on main pins the
// file by sha256. Nothing here uses the network unless the branch is missing locally, and then
// only `git fetch` from the clone's own origin, never when npm start runs it (--no-fetch). It
// never fails the install: without the model, the app uses an untrained one and says so.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'models', 'default');
const quiet = process.argv.includes('--quiet');
const mayFetch = !process.argv.includes('--no-fetch'); // npm start passes it: no network when the app starts
const say = (s) => quiet || console.log(`[default model] ${s}`);

const pinFile = path.join(dir, 'model.json');
if (!fs.existsSync(pinFile)) process.exit(0);
let pin;
try {
  pin = JSON.parse(fs.readFileSync(pinFile, 'utf8'));
} catch (e) {
  say(`${pinFile} cannot be read (${e.message}); the default model is not installed.`);
  process.exit(0);
}
const target = path.join(dir, pin.file);
const installedFile = path.join(dir, '.installed'); // the sha256 this script installed last
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');

if (fs.existsSync(target)) {
  const have = sha(fs.readFileSync(target));
  if (have === pin.sha256) {
    say(`${pin.file} is installed (${pin.name}).`);
    process.exit(0);
  }
  const ours = fs.existsSync(installedFile) && fs.readFileSync(installedFile, 'utf8').trim() === have;
  if (!ours) {
    say(`${pin.file} differs from the pinned model and was not installed by this script (a local retrain?); it is kept as it is.`);
    process.exit(0);
  }
  say(`${pin.file} is an older pinned model; updating it.`);
}

const git = (...args) => spawnSync('git', args, { cwd: root, maxBuffer: 512 * 1024 * 1024, timeout: 120_000 });
const fromRef = (ref) => {
  if (git('rev-parse', '--verify', '-q', `${ref}^{commit}`).status !== 0) return null;
  const r = git('show', `${ref}:${pin.path}`);
  return r.status === 0 ? r.stdout : null;
};
const refs = [pin.commit, `origin/${pin.branch}`, pin.branch].filter(Boolean);
let bytes = null;
let other = null; // a version found that is not the pinned one
const look = () => {
  for (const ref of refs) {
    const b = fromRef(ref);
    if (b && sha(b) === pin.sha256) return b;
    if (b) other = b;
  }
  return null;
};
bytes = look();
if (!bytes && !other && mayFetch && git('rev-parse', '--git-dir').status === 0) {
  say(`fetching the ${pin.branch} branch from origin…`);
  if (git('fetch', '-q', 'origin', `${pin.branch}:refs/remotes/origin/${pin.branch}`).status === 0) bytes = look();
}
if (!bytes && other) {
  say(`not installed: the ${pin.branch} branch holds another version of the model than main pins (sha256 ${sha(other).slice(0, 12)}…, expected ${pin.sha256.slice(0, 12)}…). Update main, or retrain (npm run train:base).`);
  process.exit(0);
}
if (!bytes) {
  say(`not installed: the ${pin.branch} branch is not in this clone. The app reads with an untrained model until then.`);
  say(`To get it: git fetch origin ${pin.branch} && node scripts/install-default-model.mjs`);
  process.exit(0);
}
const tmp = `${target}.tmp-${process.pid}`;
fs.writeFileSync(tmp, bytes);
fs.renameSync(tmp, target);
fs.writeFileSync(installedFile, `${pin.sha256}\n`);
say(`installed ${pin.file} (${pin.name}, ${(bytes.length / 1024 / 1024).toFixed(1)} MB).`);
