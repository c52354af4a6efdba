// The shipped default model: trained by the recipe (`npm run train:base`, then `train:answers`),
// kept in main's tree at models/default/titans-mac-base.trd and pinned by
// models/default/model.json (sha256, size, and the model's loss on a short held-out text,
// models/default/check.txt, so a test can tell a trained model from an untrained one).
// scripts/verify-default-model.mjs checks the pin on `npm install` and `npm start`; a packaged
// app carries the file in its resources.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { TitansModel } from '../model/model.js';
import type { Tokenizer } from '../tokenizer/index.js';

export const BASE_MODEL_FILE = 'titans-mac-base.trd';
export const BASE_MODEL_NAME = 'Titans MAC base (byte-level, books + tasks)';
/** A retrain replaces the file in main's history: keep it small. */
export const MAX_DEFAULT_MODEL_BYTES = 25 * 1024 * 1024;

/** models/default/model.json */
export interface DefaultModelPin {
  name: string;
  file: string;
  sha256: string;
  bytes: number;
  storage: 'float32' | 'float16';
  steps: number;
  parameters: number;
  /** nats per byte on check.txt: the shipped model's, and a fresh model's of the same shape */
  check: { file: string; lossPerByte: number; untrainedLossPerByte: number };
}

/** The project's root: the nearest folder above this file with our package.json. */
export function projectRoot(): string | null {
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

/** The reading graph shipped for the default model's shape (models/onnx/reading-step.ts; written by
 * `python -m train.torch.export_onnx`), or null. It serves any model of that shape, a fine-tune too. */
export const READING_GRAPH_SIDECAR = 'reading-step.json';
export function shippedReadingGraph(): string | null {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const root = projectRoot();
  const candidates = [resources ? path.join(resources, 'models', 'default', READING_GRAPH_SIDECAR) : null, root ? path.join(root, 'models', 'default', READING_GRAPH_SIDECAR) : null];
  return candidates.find((f): f is string => f !== null && fs.existsSync(f)) ?? null;
}

/** The model's loss on `text` read from a fresh state, in nats per UTF-8 byte: the mean
 * cross-entropy of its next-token predictions times the tokens predicted, over the text's bytes. */
export function checkTextLoss(model: TitansModel, tokenizer: Tokenizer, text: string): number {
  const ids = tokenizer.encode(text).ids;
  const tokens = Int32Array.from([...ids, tokenizer.special('<eos>')]);
  const loss = tf.tidy(() => model.loss(tf.tensor2d(tokens, [1, tokens.length], 'int32')));
  const mean = loss.dataSync()[0]!;
  loss.dispose();
  return (mean * (tokens.length - 1)) / Buffer.byteLength(text, 'utf8');
}
