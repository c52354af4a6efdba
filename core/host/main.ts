// `npm run host` / the browser mode of `npm start`: the app in a browser tab on 127.0.0.1.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore } from '../app.js';
import { ApiError } from '../api/errors.js';
import { dataDirFromArgs, resolveDataDir } from '../paths.js';
import { startHost } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = [path.resolve(here, '../..'), path.resolve(here, '../../..')].find((p) => fs.existsSync(path.join(p, 'package.json')))!;

function argValue(argv: string[], name: string): string | null {
  const i = argv.indexOf(name);
  if (i >= 0 && argv[i + 1]) return argv[i + 1]!;
  const eq = argv.find((a) => a.startsWith(name + '='));
  return eq ? eq.slice(name.length + 1) : null;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rendererDir = path.resolve(argValue(argv, '--renderer') ?? path.join(projectRoot, 'dist', 'renderer'));
  if (!fs.existsSync(path.join(rendererDir, 'index.html'))) {
    console.error(`The renderer is not built (${rendererDir}/index.html is missing). Run: npm run build:renderer`);
    process.exit(1);
  }
  const dataDir = resolveDataDir(dataDirFromArgs(argv));
  const modelFile = argValue(argv, '--model');
  const portArg = argValue(argv, '--port') ?? process.env.TITANS_READER_PORT ?? '0';
  const port = Number(portArg);
  if (!/^\d+$/.test(portArg) || port > 65535) {
    console.error(`The port must be a number from 0 to 65535 (0: any free port), not ${JSON.stringify(portArg)}.`);
    process.exit(1);
  }
  // A promise that fails with nobody listening (a bug in some handler) is reported once per
  // message; it must not take the host, and with it the reading and the library, down.
  const reported = new Set<string>();
  process.on('unhandledRejection', (e: unknown) => {
    const key = e instanceof Error ? e.message : String(e);
    if (reported.has(key) || reported.size > 100) return;
    reported.add(key);
    console.error('Titans Reader host: an operation failed and nobody was waiting for it (the host keeps running):', e);
  });
  const core = createCore({ dataDir, transport: 'websocket', reading: { autoRead: !argv.includes('--no-auto-read'), ...(modelFile ? { modelFile } : {}) } });
  const host = await startHost({ api: core.server, rendererDir, port });
  console.log(`Library: ${core.info.databasePath}`);
  console.log(`Titans Reader is running in your browser at: ${host.url}`);
  console.log('(Only this machine can connect; the address holds a one-time token. Press Ctrl+C to stop.)');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await host.close();
    await core.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  if (e instanceof ApiError) {
    console.error(`${e.message}${e.hint ? `\n${e.hint}` : ''}`);
  } else {
    console.error(e);
  }
  process.exit(1);
});
