// A real browser host on a real port for the host tests: a renderer folder with index.html and
// app.js, a file beside it that must never be served (secret.txt), and a fresh library behind it.
import fs from 'node:fs';
import path from 'node:path';
import { createCore, type Core } from '../../../core/app.js';
import { startHost, type RunningHost } from '../../../core/host/server.js';
import { tempDir } from '../../fixtures/texts.js';

export interface TestHost {
  dir: string;
  core: Core;
  host: RunningHost;
}

/** Start it; the host's log lines go to `logged` when given. */
export async function startTestHost(logged?: string[]): Promise<TestHost> {
  const dir = tempDir();
  const renderer = path.join(dir, 'renderer');
  fs.mkdirSync(renderer);
  fs.writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  fs.writeFileSync(path.join(renderer, 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside the renderer');
  const core = createCore({ dataDir: path.join(dir, 'data'), transport: 'websocket' });
  const host = await startHost({ api: core.server, rendererDir: renderer, ...(logged ? { log: (line: string) => logged.push(line) } : {}) });
  return { dir, core, host };
}

export async function stopTestHost(t: TestHost): Promise<void> {
  await t.host.close();
  await t.core.close();
  fs.rmSync(t.dir, { recursive: true, force: true });
}
