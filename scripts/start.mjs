#!/usr/bin/env node
// `npm start`: the Electron window where Electron's binary is installed; otherwise the browser host
// on 127.0.0.1. It says which mode it chose and why. Extra arguments (e.g. --data DIR) pass through.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The Electron binary, found without require('electron') (which would try to download it). */
function electronBinary() {
  const dir = path.join(root, 'node_modules', 'electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!fs.existsSync(pathFile)) return { binary: null, why: `Electron's binary is not installed (${path.relative(root, pathFile)} is missing; it could not be downloaded).` };
  const binary = path.join(dir, 'dist', fs.readFileSync(pathFile, 'utf8').trim());
  if (!fs.existsSync(binary)) return { binary: null, why: `Electron's binary is missing at ${binary}.` };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { binary: null, why: 'Electron is installed but there is no display (DISPLAY / WAYLAND_DISPLAY are unset).' };
  return { binary, why: '' };
}

function run(script) {
  const r = spawnSync(npm, ['run', '--silent', script], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// the default model in models/default/, checked against its sha256 pin (it says what it found)
spawnSync(process.execPath, [path.join(root, 'scripts', 'verify-default-model.mjs'), '--never-fail'], { cwd: root, stdio: 'inherit' });

const forceBrowser = args.includes('--browser');
const { binary, why } = forceBrowser ? { binary: null, why: 'you asked for the browser host (--browser).' } : electronBinary();
const passThrough = args.filter((a) => a !== '--browser');

if (binary) {
  console.log('Starting Titans Reader as a desktop app (Electron).');
  run('build');
  const child = spawn(binary, [root, ...passThrough], { cwd: root, stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.log(`Starting Titans Reader in browser mode: ${why}`);
  console.log('The app is served on 127.0.0.1 only; open the address below in your browser.');
  run('build:renderer');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'core/host/main.ts'), ...passThrough], { cwd: root, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code ?? 0));
}
