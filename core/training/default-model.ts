// The shipped default model: trained by `npm run train:base`, kept out of main's history (see
// models/default/README.md) and installed into models/default/ by scripts/install-default-model.mjs
// (npm install and npm start run it). A packaged app carries it in its resources.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE_MODEL_FILE = 'titans-mac-base.trd';
export const BASE_MODEL_NAME = 'Titans MAC base (byte-level, books + tasks)';

/** The project's root: the nearest folder above this file with our package.json. */
function projectRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'titans-reader') return dir;
      } catch {
        /* not ours */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The installed default model's file, or null when it is not installed. */
export function shippedModelFile(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.TITANS_DEFAULT_MODEL !== undefined) return env.TITANS_DEFAULT_MODEL && fs.existsSync(env.TITANS_DEFAULT_MODEL) ? env.TITANS_DEFAULT_MODEL : null;
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const candidates = [resources ? path.join(resources, 'models', 'default', BASE_MODEL_FILE) : null, projectRoot() ? path.join(projectRoot()!, 'models', 'default', BASE_MODEL_FILE) : null];
  return candidates.find((f): f is string => f !== null && fs.existsSync(f)) ?? null;
}
