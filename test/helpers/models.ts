// Shared helpers of the memory and model tests (unit and integration).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type NeuralMemoryConfig, paramShapes } from '../../models/memory/config.js';
import type { TorchVectors } from '../oracles/torch-compat.js';

/** activate a tfjs backend for a test file ('cpu' by default, TITANS_TEST_BACKEND to override) */
export async function useBackend(name = process.env.TITANS_TEST_BACKEND ?? 'cpu'): Promise<void> {
  const prev = console.warn;
  console.warn = () => {}; // "looks like you are running TensorFlow.js in Node.js"
  try {
    if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed`);
    await tf.ready();
  } finally {
    console.warn = prev;
  }
}

export const VECTOR_FILES = ['neural_memory_default', 'neural_memory_heads_batch', 'neural_memory_chunk1_batch8'] as const;

export function loadVectors(name: string): TorchVectors {
  const p = fileURLToPath(new URL(`../fixtures/titans-vectors/${name}.json`, import.meta.url));
  return JSON.parse(readFileSync(p, 'utf8')) as TorchVectors;
}

/** max |a - b| and that divided by max |b| (error relative to the tensor's scale) */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; rel: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { maxAbs, rel: scale > 0 ? maxAbs / scale : maxAbs };
}

/** deterministic PRNG (mulberry32) and a standard normal from it */
export function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-300)) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** random parameters for a config, float64, with moderate scales so that every path matters */
export function randomParams(c: NeuralMemoryConfig, seed: number): Record<string, Float64Array> {
  const r = rng(seed);
  const out: Record<string, Float64Array> = {};
  for (const [k, shape] of Object.entries(paramShapes(c))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float64Array(n);
    let scale = 1 / Math.sqrt(shape[shape.length - 2] ?? shape[0]!);
    if (k === 'storeNorm' || k === 'retrieveNorm') for (let i = 0; i < n; i++) a[i] = 1 + 0.2 * r.normal();
    else {
      if (k.endsWith('B') || k.endsWith('Norm') || k === 'memGamma') scale = 0.3;
      if (k.startsWith('conv')) scale = 0.5;
      for (let i = 0; i < n; i++) a[i] = scale * r.normal();
    }
    out[k] = a.map(Math.fround); // exactly representable in float32: both sides see the same numbers
  }
  return out;
}

export function randomInput(B: number, T: number, d: number, seed: number): Float64Array[] {
  const r = rng(seed);
  return Array.from({ length: B }, () => Float64Array.from({ length: T * d }, () => Math.fround(r.normal())));
}

export function toTensor(rows: Float64Array[], T: number, d: number): tf.Tensor {
  const flat = new Float32Array(rows.length * T * d);
  rows.forEach((r, i) => flat.set(r, i * T * d));
  return tf.tensor(flat, [rows.length, T, d]);
}

/** d obj / d t[i] by central differences (t is changed and restored) */
export function centralDifference(t: Float64Array | number[], i: number, obj: () => number, h = 1e-6): number {
  const old = t[i]!;
  t[i] = old + h;
  const fp = obj();
  t[i] = old - h;
  const fm = obj();
  t[i] = old;
  return (fp - fm) / (2 * h);
}
