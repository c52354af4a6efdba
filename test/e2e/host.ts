// A fresh browser host per test: its own temporary library, its own port and token.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as base } from '@playwright/test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(root, 'test/e2e/artifacts');

export interface Host {
  url: string;
  dataDir: string;
  workDir: string;
  process: ChildProcess;
}

/** A host with its own library; `args` go to the host (default: no reading into memory on import). */
export async function startHost(args: string[] = ['--no-auto-read'], env: Record<string, string> = {}): Promise<Host> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-e2e-'));
  const dataDir = path.join(workDir, 'data');
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/host/main.ts', '--data', dataDir, '--port', '0', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /running in your browser at: (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`host exited with ${code}:\n${output}`)));
  });
  return { url, dataDir, workDir, process: child };
}

export async function stopHost(host: Host): Promise<void> {
  if (host.process.exitCode === null) {
    const exited = new Promise((r) => host.process.once('exit', r));
    host.process.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(host.workDir, { recursive: true, force: true });
}

export const test = base.extend<{ host: Host; readingHost: Host }>({
  host: async ({}, use) => {
    const host = await startHost();
    await use(host);
    await stopHost(host);
  },
  /** as the app runs for a user: every import is read into memory by the default model */
  readingHost: async ({}, use) => {
    const host = await startHost([]);
    await use(host);
    await stopHost(host);
  },
});
export { expect } from '@playwright/test';
