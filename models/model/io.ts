// Models and document memories on disk, in the one checkpoint format (models/checkpoint):
// a model is its config + tokenizer + every parameter; a memory state is everything a ModelState
// carries, so reading can resume exactly where it stopped.
import * as tf from '@tensorflow/tfjs';
import { CheckpointError, type Checkpoint, type CheckpointTensor, type JsonValue } from '../checkpoint/format.js';
import { safetensorsToCheckpoint } from '../checkpoint/safetensors.js';
import { assignCheckpointTensors, tensorsToCheckpoint } from '../checkpoint/tensors.js';
import type { MemoryState } from '../memory/neural-memory.js';
import { tokenizerFromSpec, type Tokenizer, type TokenizerSpec } from '../tokenizer/index.js';
import { validateModelConfig, type ModelConfig } from './config.js';
import { TitansModel } from './model.js';
import type { LayerState, ModelState } from './state.js';

export const MODEL_FORMAT = 'titans-lm';
export const MODEL_FORMAT_VERSION = 1;

export function modelToCheckpoint(model: TitansModel, tokenizer: TokenizerSpec, meta: Record<string, JsonValue> = {}): Checkpoint {
  return {
    kind: 'model',
    config: model.config as unknown as JsonValue,
    tokenizer: tokenizer as unknown as JsonValue,
    meta: { format: MODEL_FORMAT, formatVersion: MODEL_FORMAT_VERSION, parameters: model.parameterCount, ...meta },
    tensors: tensorsToCheckpoint(model.params.all),
  };
}

/** Rebuild a model (and its tokenizer) from a checkpoint; every parameter must be present. */
export function modelFromCheckpoint(c: Checkpoint): { model: TitansModel; tokenizer: Tokenizer; meta: Record<string, JsonValue> } {
  if (c.kind !== 'model') throw new CheckpointError('invalid-input', `expected a model checkpoint, got "${c.kind}"`);
  const meta = (c.meta ?? {}) as Record<string, JsonValue>;
  if (meta.format !== MODEL_FORMAT) throw new CheckpointError('invalid-input', 'this checkpoint does not hold a Titans language model');
  if (typeof meta.formatVersion === 'number' && meta.formatVersion > MODEL_FORMAT_VERSION) {
    throw new CheckpointError('newer-version', `this model was saved by a newer version of Titans Reader (model format ${meta.formatVersion})`);
  }
  const config = c.config as unknown as ModelConfig;
  validateModelConfig(config);
  const tokenizer = tokenizerFromSpec(c.tokenizer as unknown as TokenizerSpec);
  if (tokenizer.vocabSize > config.vocabSize) throw new CheckpointError('invalid-input', `tokenizer has ${tokenizer.vocabSize} tokens, the model only ${config.vocabSize}`);
  const model = new TitansModel(config);
  try {
    assignCheckpointTensors(model.params.all, c.tensors);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, meta };
}

/** A model checkpoint from safetensors (written here or by another trainer with the documented names and metadata). */
export function modelCheckpointFromSafetensors(bytes: Uint8Array): Checkpoint {
  const c = safetensorsToCheckpoint(bytes);
  const meta = (c.meta ?? {}) as Record<string, JsonValue>;
  // a file from another trainer carries the config and tokenizer, not necessarily our format tag
  return { ...c, meta: { format: MODEL_FORMAT, formatVersion: MODEL_FORMAT_VERSION, ...meta, importedFrom: 'safetensors' } };
}

// ---------------------------------------------------------------- memory state of a document

const LAYER_TENSORS = ['queryContext', 'k', 'v', 'hk', 'hv'] as const;

interface MemoryMeta {
  pos: number;
  batch: number;
  tensors: number;
  carry: boolean;
  /** gradient weights are the weights themselves (the usual case) */
  gradIsWeights: boolean;
}

interface LayerMeta {
  mem: MemoryMeta | null;
  /** 'same': the segment-start memory is the current one; 'own': stored separately */
  memAtSegment: 'none' | 'same' | 'own';
  memAtSegmentMeta: MemoryMeta | null;
  present: string[];
}

function memoryRecord(prefix: string, m: MemoryState, out: Record<string, tf.Tensor>): MemoryMeta {
  const gradIsWeights = m.gradWeights.every((g, i) => g === m.weights[i]);
  m.weights.forEach((t, i) => (out[`${prefix}.w${i}`] = t));
  m.momentum.forEach((t, i) => (out[`${prefix}.s${i}`] = t));
  if (!gradIsWeights) m.gradWeights.forEach((t, i) => (out[`${prefix}.g${i}`] = t));
  if (m.carry) out[`${prefix}.carry`] = m.carry;
  return { pos: m.pos, batch: m.batch, tensors: m.weights.length, carry: m.carry !== null, gradIsWeights };
}

function memoryFrom(prefix: string, meta: MemoryMeta, get: (name: string) => tf.Tensor): MemoryState {
  const list = (k: string) => Array.from({ length: meta.tensors }, (_, i) => get(`${prefix}.${k}${i}`));
  const weights = list('w');
  return { pos: meta.pos, batch: meta.batch, weights, momentum: list('s'), gradWeights: meta.gradIsWeights ? weights : list('g'), carry: meta.carry ? get(`${prefix}.carry`) : null };
}

/** A ModelState as a checkpoint (float16 halves the size; float32 resumes bit-exactly). */
export function stateToCheckpoint(state: ModelState, meta: Record<string, JsonValue> = {}, opts: { float16?: boolean } = {}): Checkpoint {
  const record: Record<string, tf.Tensor> = {};
  const layers: LayerMeta[] = state.layers.map((l, i) => {
    const lm: LayerMeta = { mem: null, memAtSegment: 'none', memAtSegmentMeta: null, present: [] };
    if (l.mem) lm.mem = memoryRecord(`l${i}.mem`, l.mem, record);
    if (l.memAtSegment && l.memAtSegment === l.mem) lm.memAtSegment = 'same';
    else if (l.memAtSegment) {
      lm.memAtSegment = 'own';
      lm.memAtSegmentMeta = memoryRecord(`l${i}.seg`, l.memAtSegment, record);
    }
    for (const k of LAYER_TENSORS) {
      const t = l[k];
      if (t) {
        record[`l${i}.${k}`] = t;
        lm.present.push(k);
      }
    }
    return lm;
  });
  return {
    kind: 'memory-state',
    meta: { pos: state.pos, batch: state.batch, layers: layers as unknown as JsonValue, ...meta },
    tensors: tensorsToCheckpoint(record, { float16: opts.float16 === true }),
  };
}

export function stateFromCheckpoint(c: Checkpoint): ModelState {
  if (c.kind !== 'memory-state') throw new CheckpointError('invalid-input', `expected a memory state, got "${c.kind}"`);
  const meta = c.meta as unknown as { pos: number; batch: number; layers: LayerMeta[] };
  const byName = new Map<string, CheckpointTensor>(c.tensors.map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new CheckpointError('invalid-input', `memory state lacks tensor ${name}`);
    return tf.tensor(t.data as Float32Array, t.shape, 'float32');
  };
  return {
    pos: meta.pos,
    batch: meta.batch,
    layers: meta.layers.map((lm, i): LayerState => {
      const mem = lm.mem ? memoryFrom(`l${i}.mem`, lm.mem, get) : null;
      const memAtSegment = lm.memAtSegment === 'same' ? mem : lm.memAtSegment === 'own' ? memoryFrom(`l${i}.seg`, lm.memAtSegmentMeta!, get) : null;
      const layer: LayerState = { mem, memAtSegment, queryContext: null, k: null, v: null, hk: null, hv: null };
      for (const k of lm.present) layer[k as (typeof LAYER_TENSORS)[number]] = get(`l${i}.${k}`);
      return layer;
    }),
  };
}
