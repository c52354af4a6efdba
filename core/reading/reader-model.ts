// The model that reads documents: a checkpoint file, identified by the sha256 of its bytes (the
// "model version" every memory state and trace records), and registered in the library's models
// table. Without a file of its own the library uses a default model it creates once, from a seed,
// in its data folder; until a trained default ships (issue 7) that model is untrained and says so.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { registerModel } from '../library/model-registry.js';
import { decodeCheckpoint, writeCheckpointFileSync, type JsonValue } from '../../models/checkpoint/format.js';
import { modelConfig, type ModelConfig } from '../../models/model/config.js';
import { modelFromCheckpoint, modelToCheckpoint } from '../../models/model/io.js';
import { TitansModel } from '../../models/model/model.js';
import { ByteTokenizer, type Tokenizer } from '../../models/tokenizer/index.js';
import type { ModelInfo } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { shippedModelFile } from '../../models/default/default-model.js';

export const DEFAULT_MODEL_FILE = 'default-untrained.trd';
export const DEFAULT_MODEL_NAME = 'Titans MAC small (untrained)';

/** The default reader: MAC, byte-level, d=128, 2 layers (0.7M parameters; ~1,800 tokens/s on wasm). */
export function defaultReaderConfig(): ModelConfig {
  return modelConfig({ arch: 'mac', vocabSize: new ByteTokenizer().vocabSize, dim: 128, layers: 2, heads: 4, segment: 64, memory: { chunkSize: 16, heads: 2 } });
}

/** A version's id (the first 16 hex digits of its file's sha256), its name (from its metadata, else the file's) and its path. */
function modelIdentity(file: string, bytes: Uint8Array, meta: Record<string, JsonValue>): { id: string; name: string; file: string } {
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 16), name: typeof meta.name === 'string' ? meta.name : path.basename(file, path.extname(file)), file: path.resolve(file) };
}

export { registerModel } from '../library/model-registry.js';

/** Read a model file's identity and metadata without keeping the model. */
export function inspectModelFile(file: string): { info: ModelInfo; config: unknown; tokenizer: unknown; meta: Record<string, JsonValue> } {
  const bytes = fs.readFileSync(file);
  const c = decodeCheckpoint(bytes);
  const meta = (c.meta ?? {}) as Record<string, JsonValue>;
  const config = c.config as { arch?: string } | null;
  const parameters = c.tensors.filter((t) => !t.name.startsWith('optimizer/')).reduce((n, t) => n + t.data.length, 0);
  return {
    info: { ...modelIdentity(file, bytes, meta), arch: config?.arch ?? 'mac', parameters, trained: meta.trained !== false },
    config: c.config,
    tokenizer: c.tokenizer,
    meta,
  };
}

export interface LoadedReaderModel {
  info: ModelInfo;
  model: TitansModel;
  tokenizer: Tokenizer;
  /** what registerModel stores for it (the model worker hands it to the core, which registers it) */
  registration: { config: unknown; tokenizer: unknown; meta: Record<string, JsonValue> };
}

/** Write a fresh (untrained) model checkpoint, e.g. the default one or a small one for tests. */
export function writeUntrainedModel(file: string, config: ModelConfig, opts: { seed?: number; name?: string } = {}): void {
  const model = new TitansModel(config, { seed: opts.seed ?? 1 });
  try {
    const meta: Record<string, JsonValue> = { name: opts.name ?? `Titans ${config.arch.toUpperCase()} d${config.dim} x${config.layers} (untrained)`, trained: false };
    // A fixed creation time: the same seed gives the same bytes, so the same model id everywhere
    // (two processes creating the default model at once agree on it).
    writeCheckpointFileSync(file, { ...modelToCheckpoint(model, new ByteTokenizer().spec, meta), createdAt: '2026-01-01T00:00:00.000Z' });
  } finally {
    model.dispose();
  }
}

/** Load the reading model and register it. Without a file: the shipped default model when it is
 * installed, else an untrained one created in the data folder. */
/** The reading model, registered in the library (db), or not (null: the model worker, which only reads). */
export function loadReaderModel(db: Db | null, dataDir: string, modelFile?: string): LoadedReaderModel {
  let file = modelFile ?? shippedModelFile() ?? undefined;
  if (!file) {
    file = path.join(dataDir, 'models', DEFAULT_MODEL_FILE);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeUntrainedModel(file, defaultReaderConfig(), { seed: 1, name: DEFAULT_MODEL_NAME });
    }
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ApiError('not_found', `The model file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, 'Check the path given with --model or TITANS_MODEL.');
  }
  let loaded: ReturnType<typeof modelFromCheckpoint>;
  try {
    loaded = modelFromCheckpoint(decodeCheckpoint(bytes));
  } catch (e) {
    throw new ApiError('unreadable', `${path.basename(file)} is not a usable Titans model: ${(e as Error).message}.`, 'Choose a model file written by Titans Reader (titans-reader train).');
  }
  const meta = loaded.meta;
  const info: ModelInfo = {
    ...modelIdentity(file, bytes, meta),
    arch: loaded.model.config.arch,
    parameters: loaded.model.parameterCount,
    trained: meta.trained !== false,
  };
  const registration = { config: loaded.model.config, tokenizer: loaded.tokenizer.spec, meta };
  if (db) registerModel(db, info, registration.config, registration.tokenizer, meta);
  return { info, model: loaded.model, tokenizer: loaded.tokenizer, registration };
}
