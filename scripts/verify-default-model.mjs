#!/usr/bin/env node
// Checks the default model in main's tree against its pin (npm install and npm start run this).
// The weights live in models/default/ on main itself, pinned by sha256 in models/default/model.json
// (scripts/pin-default-model.ts writes both); nothing is downloaded or fetched. It says what it
// found and never fails the install: a mismatching file is named, with what to do.
// Exit code: 0 when the pinned file is there and matches; 1 otherwise (`npm run model:verify`).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'models', 'default');
const quiet = process.argv.includes('--quiet');
const say = (s) => quiet || console.log(`[default model] ${s}`);

/** @returns {{ ok: boolean, message: string }} */
export function verifyDefaultModel(modelDir) {
  const pinFile = path.join(modelDir, 'model.json');
  let pin;
  try {
    pin = JSON.parse(fs.readFileSync(pinFile, 'utf8'));
  } catch (e) {
    return { ok: false, message: `${pinFile} cannot be read (${e.code ?? e.message}); the app will read with an untrained model. Restore it with: git checkout -- models/default` };
  }
  const file = path.join(modelDir, String(pin.file));
  if (!fs.existsSync(file)) return { ok: false, message: `${pin.file} is missing from ${modelDir}; the app will read with an untrained model. Restore it with: git checkout -- models/default` };
  const bytes = fs.readFileSync(file);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== pin.sha256) {
    return { ok: false, message: `${pin.file} does not match its pin (sha256 ${sha.slice(0, 12)}…, pinned ${String(pin.sha256).slice(0, 12)}…): a local retrain not yet pinned (npm run model:pin), or a damaged file (git checkout -- models/default).` };
  }
  return { ok: true, message: `${pin.file} verified: ${pin.name}, ${(bytes.length / 1e6).toFixed(1)} MB, ${pin.steps} steps, sha256 ${sha.slice(0, 12)}….` };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = verifyDefaultModel(dir);
  say(r.message);
  process.exit(r.ok || process.argv.includes('--never-fail') ? 0 : 1);
}
