// Text generation with the state as cache: the prompt is read once, then each new token is one
// forward call of length 1. Greedy, temperature, and nucleus (top-p) sampling; tokens are streamed.
import * as tf from '@tensorflow/tfjs';
import { randomSource } from '../util/random.js';
import type { TitansModel } from './model.js';
import { disposeModelState, type ModelState } from './state.js';

export interface SampleOptions {
  /** 0 = greedy (argmax) */
  temperature?: number;
  /** nucleus sampling: keep the smallest set of tokens whose probability reaches topP */
  topP?: number;
  /** seed of the sampler's random numbers */
  seed?: number;
}

export interface GenerateOptions extends SampleOptions {
  maxTokens: number;
  /** generation ends after any of these token ids */
  stop?: number[];
  signal?: AbortSignal;
  /** start from this state (e.g. a document's memory); it is not disposed */
  state?: ModelState | null;
  /** constrained decoding: the token ids allowed next, given those generated so far (null: any) */
  allow?: (generated: readonly number[]) => ArrayLike<number> | null;
}

/** The logits with every token that is not allowed set to -Infinity (the row itself when all are). */
function masked(logits: Float32Array, allowed: ArrayLike<number> | null): Float32Array {
  if (allowed === null) return logits;
  const out = new Float32Array(logits.length).fill(-Infinity);
  for (let i = 0; i < allowed.length; i++) out[allowed[i]!] = logits[allowed[i]!]!;
  return out;
}

export { randomSource };

/** Pick a token from one row of logits. */
export function sampleToken(logits: Float32Array, opts: SampleOptions, random: () => number): number {
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const probs = Array.from(logits, (v, i) => ({ i, p: Math.exp((v - max) / temperature) }));
  const sum = probs.reduce((s, x) => s + x.p, 0);
  for (const x of probs) x.p /= sum;
  probs.sort((a, b) => b.p - a.p);
  const topP = opts.topP ?? 1;
  let kept = probs.length;
  let acc = 0;
  for (let k = 0; k < probs.length; k++) {
    acc += probs[k]!.p;
    if (acc >= topP) {
      kept = k + 1;
      break;
    }
  }
  const pool = probs.slice(0, kept);
  const total = pool.reduce((s, x) => s + x.p, 0);
  let r = random() * total;
  for (const x of pool) {
    r -= x.p;
    if (r <= 0) return x.i;
  }
  return pool[pool.length - 1]!.i;
}

/** the last position's logits, read asynchronously (every backend, webgpu in Node included) */
async function lastRowAsync(logits: tf.Tensor): Promise<Float32Array> {
  const [B, T, V] = logits.shape as [number, number, number];
  const row = tf.slice(logits, [0, T - 1, 0], [B, 1, V]);
  try {
    return (await row.data()) as Float32Array;
  } finally {
    row.dispose();
  }
}

function lastRow(logits: tf.Tensor): Float32Array {
  const [B, T, V] = logits.shape as [number, number, number];
  const row = tf.slice(logits, [0, T - 1, 0], [B, 1, V]);
  const data = row.dataSync() as Float32Array;
  row.dispose();
  return data;
}

/**
 * Continue `prompt` (token ids) with up to maxTokens tokens, yielding each as it is chosen.
 * Returns (as the generator's return value) the final state, which the caller owns.
 */
export async function* generate(model: TitansModel, prompt: ArrayLike<number>, opts: GenerateOptions): AsyncGenerator<number, ModelState | null> {
  const random = randomSource(opts.seed ?? 0);
  const stop = new Set(opts.stop ?? []);
  const generated: number[] = [];
  let state: ModelState | null = opts.state ?? null;
  let owned = false;
  let logits: Float32Array;
  {
    if (prompt.length === 0) throw new Error('generate needs at least one prompt token');
    const ids = tf.tensor2d([Array.from(prompt)], [1, prompt.length], 'int32');
    const r = model.forward(ids, state);
    ids.dispose();
    logits = await lastRowAsync(r.logits);
    r.logits.dispose();
    state = r.state;
    owned = true;
  }
  try {
    for (let n = 0; n < opts.maxTokens; n++) {
      if (opts.signal?.aborted) break;
      const allowed = opts.allow?.(generated) ?? null;
      if (allowed !== null && allowed.length === 0) break; // nothing may follow
      const id = sampleToken(masked(logits, allowed), opts, random);
      generated.push(id);
      yield id;
      if (stop.has(id) || n + 1 === opts.maxTokens) break;
      const ids = tf.tensor2d([[id]], [1, 1], 'int32');
      const r = model.forward(ids, state);
      ids.dispose();
      if (owned) disposeModelState(state);
      state = r.state;
      logits = await lastRowAsync(r.logits);
      r.logits.dispose();
      await new Promise((resolve) => setImmediate(resolve)); // let the event loop breathe between tokens
    }
    const result = state;
    owned = false;
    return result;
  } finally {
    if (owned) disposeModelState(state);
  }
}

/** The reference path: re-read the whole sequence for every token (no cache). For tests. */
export function generateWithoutCache(model: TitansModel, prompt: ArrayLike<number>, opts: Omit<GenerateOptions, 'state' | 'signal'>): number[] {
  const random = randomSource(opts.seed ?? 0);
  const seq = Array.from(prompt);
  const out: number[] = [];
  for (let n = 0; n < opts.maxTokens; n++) {
    const ids = tf.tensor2d([seq], [1, seq.length], 'int32');
    const r = model.forward(ids, null);
    ids.dispose();
    const row = lastRow(r.logits);
    r.logits.dispose();
    disposeModelState(r.state);
    const allowed = opts.allow?.(out) ?? null;
    if (allowed !== null && allowed.length === 0) break;
    const id = sampleToken(masked(row, allowed), opts, random);
    out.push(id);
    seq.push(id);
    if (opts.stop?.includes(id)) break;
  }
  return out;
}
