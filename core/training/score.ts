// Surprisal of a passage under several model versions, in a short-lived worker (TensorFlow.js
// stays off the core's thread).
import { ApiError } from '../api/errors.js';
import { spawnWorker } from '../spawn-worker.js';
import { FromTrainer, type ScoreSettings } from './protocol.js';

export type Scored = Extract<FromTrainer, { type: 'scored' }>;

export function scoreText(modelFiles: string[], text: string, backend?: string): Promise<Scored> {
  const data: ScoreSettings = { mode: 'score', modelFiles, text, ...(backend ? { backend } : {}) };
  const worker = spawnWorker(import.meta.url, 'worker', data);
  return new Promise<Scored>((resolve, reject) => {
    worker.on('message', (raw: unknown) => {
      const m = FromTrainer.safeParse(raw);
      if (!m.success) return;
      if (m.data.type === 'scored') resolve(m.data);
      else if (m.data.type === 'failed') reject(new ApiError(m.data.error.code, m.data.error.message, m.data.error.hint));
    });
    worker.on('error', (e) => reject(ApiError.from(e)));
    worker.on('exit', (code) => reject(new ApiError('internal', `The scoring worker stopped (exit code ${code}).`)));
  }).finally(() => void worker.terminate());
}
