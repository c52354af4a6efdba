// Where the library lives: --data DIR, else $TITANS_READER_DATA, else the user's data folder
// (the same folder Electron's app.getPath('userData') gives for the product name).
import os from 'node:os';
import path from 'node:path';

export const PRODUCT_NAME = 'Titans Reader';
export const DATABASE_FILE = 'library.sqlite';

export function defaultDataDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const home = os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), PRODUCT_NAME);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', PRODUCT_NAME);
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), PRODUCT_NAME);
}

export function resolveDataDir(explicit?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  if (env.TITANS_READER_DATA) return path.resolve(env.TITANS_READER_DATA);
  return defaultDataDir(process.platform, env);
}

/** Reads `--data DIR` or `--data=DIR` from an argument list. */
export function dataDirFromArgs(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--data' && argv[i + 1]) return argv[i + 1]!;
    if (a.startsWith('--data=')) return a.slice('--data='.length);
  }
  return null;
}
