// A worker thread from a module file given relative to the caller; under tsx or vitest (.ts
// sources) tsx is registered inside the worker first, so the same code runs built or not.
import { createRequire } from 'node:module';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `callerUrl`: the caller's import.meta.url; `name`: the worker file's path from the caller's folder, without extension ('worker', '../model-worker'); `options`: more Worker options (resourceLimits). */
export function spawnWorker(callerUrl: string, name: string, workerData: unknown, options: Omit<WorkerOptions, 'eval' | 'workerData'> = {}): Worker {
  const ext = callerUrl.endsWith('.ts') ? '.ts' : '.js';
  const entry = new URL(`./${name}${ext}`, callerUrl);
  if (ext === '.js') return new Worker(entry, { ...options, workerData });
  const tsxApi = createRequire(callerUrl).resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs');
  const boot = `import(${JSON.stringify(new URL(`file://${tsxApi}`).href)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true, workerData });
}
