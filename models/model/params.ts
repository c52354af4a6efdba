// The model's outer parameters: one flat map of named variables (checkpoints, optimizers and
// fine-tuning select parameters by these names). Each layer's neural memory owns its variables
// and they are listed here as `l{i}.mem.{name}`.
import * as tf from '@tensorflow/tfjs';
import { NeuralMemory } from '../memory/neural-memory.js';
import { ffnWidth, hasMemory, memoryConfigOf, type ModelConfig } from './config.js';

export interface ModelParams {
  /** every trainable tensor by name */
  all: Record<string, tf.Variable>;
  /** the neural memory of each layer (null where the layer has none) */
  memories: Array<NeuralMemory | null>;
}

/** A seeded stream of seeds, so the same config and seed always give the same model. */
function seeds(seed: number): () => number {
  let s = (seed * 2654435761) % 2147483647 || 1;
  return () => (s = (s * 48271) % 2147483647);
}

export function paramShapes(c: ModelConfig): Record<string, number[]> {
  const d = c.dim;
  const f = ffnWidth(c);
  const s: Record<string, number[]> = { embed: [c.vocabSize, d], finalNorm: [d] };
  if (!c.tieEmbeddings) s.head = [d, c.vocabSize];
  for (let i = 0; i < c.layers; i++) {
    const mem = hasMemory(c, i);
    const attention = c.arch !== 'lmm';
    s[`l${i}.mixNorm`] = [d];
    if (attention) {
      for (const w of ['wq', 'wk', 'wv', 'wo']) s[`l${i}.${w}`] = [d, d];
      if (c.persistentTokens > 0) s[`l${i}.persist`] = [c.persistentTokens, d];
    }
    if (mem && c.arch === 'mac') s[`l${i}.gateNorm`] = [d];
    if (mem && c.arch === 'mag') {
      s[`l${i}.normA`] = [d];
      s[`l${i}.normB`] = [d];
    }
    s[`l${i}.ffnNorm`] = [d];
    s[`l${i}.w1`] = [d, f];
    s[`l${i}.w3`] = [d, f];
    s[`l${i}.w2`] = [f, d];
  }
  return s;
}

let instances = 0;

export function createParams(c: ModelConfig, seed = 0): ModelParams {
  const next = seeds(seed);
  const scope = `titans${instances++}`; // tfjs variable names are global: one scope per model
  const all: Record<string, tf.Variable> = {};
  const residualScale = 1 / Math.sqrt(2 * c.layers);
  for (const [name, shape] of Object.entries(paramShapes(c))) {
    const leaf = name.split('.').pop()!;
    let init: tf.Tensor;
    if (leaf.endsWith('Norm')) init = tf.ones(shape);
    else if (leaf === 'embed' || leaf === 'persist') init = tf.randomNormal(shape, 0, 0.02, 'float32', next());
    else {
      const std = (1 / Math.sqrt(shape[0]!)) * (leaf === 'wo' || leaf === 'w2' ? residualScale : 1);
      init = tf.randomNormal(shape, 0, std, 'float32', next());
    }
    all[name] = tf.variable(init, true, `${scope}/${name}`);
    init.dispose();
  }
  const memories: Array<NeuralMemory | null> = [];
  for (let i = 0; i < c.layers; i++) {
    if (!hasMemory(c, i)) {
      memories.push(null);
      continue;
    }
    const mem = new NeuralMemory(memoryConfigOf(c), { seed: next(), name: `${scope}/l${i}.mem` });
    memories.push(mem);
    for (const [k, v] of Object.entries(mem.params)) all[`l${i}.mem.${k}`] = v;
  }
  return { all, memories };
}

export function countParams(p: ModelParams): number {
  return Object.values(p.all).reduce((n, v) => n + v.size, 0);
}

export function disposeParams(p: ModelParams): void {
  tf.dispose(Object.values(p.all));
}
