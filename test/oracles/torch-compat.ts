// Mapping between titans-pytorch NeuralMemory (commit cc016eb) and our module, for the parity tests
// with test/fixtures/titans-vectors (docs/titans.md section 5). Plain numbers only (no tfjs).

import { FLOAT64_EPS, type NeuralMemoryConfig, defaultConfig, paramShapes } from '../../models/memory/config.js';

type Nested = number | Nested[];

export function flatten(x: Nested): number[] {
  const out: number[] = [];
  const rec = (v: Nested) => {
    if (Array.isArray(v)) v.forEach(rec);
    else out.push(v);
  };
  rec(x);
  return out;
}

export interface TorchVectors {
  note: string;
  ctor: Record<string, number | boolean | null>;
  ctor_extra_repr: Record<string, string>;
  params: Record<string, { shape: number[]; data: Nested }>;
  input: Nested;
  retrieved: Nested;
  state: {
    seq_index: number;
    weights: Record<string, { shape: number[]; data: Nested }>;
    last_update: Record<string, { shape: number[]; data: Nested }>;
    last_momentum: Record<string, { shape: number[]; data: Nested }>;
    updates: Record<string, { shape: number[]; data: Nested }>;
    cache_store_segment: Nested;
  };
  store_loss_per_token: Nested;
  adaptive_lr_per_token: Nested;
  probe: Nested;
  objective: number;
  grad_of_objective: Record<string, Nested | null>;
}

/** our config equivalent to the vectors' NeuralMemory(...) call */
export function configFromTorch(v: TorchVectors): NeuralMemoryConfig {
  const c = v.ctor;
  const dim = c.dim as number;
  const act = v.ctor_extra_repr.activation;
  if (act !== undefined && act !== 'SiLU()') throw new Error(`unsupported activation ${act}`);
  return defaultConfig({
    dim,
    mode: 'reference',
    heads: (c.heads as number | undefined) ?? 1,
    dimHead: (c.dim_head as number | undefined) ?? dim,
    chunkSize: (c.chunk_size as number | undefined) ?? 1,
    refreshInterval: (c.batch_size as number | null | undefined) ?? null,
    qkRmsNorm: (c.qk_rmsnorm as boolean | undefined) ?? false,
    maxLr: (c.default_step_transform_max_lr as number | undefined) ?? 1,
    activation: act === 'SiLU()' ? 'silu' : 'none',
    depth: 2,
    expansion: 4,
    normResidual: true,
    preNorm: true,
    postNorm: false,
    rmsEps: FLOAT64_EPS, // nn.RMSNorm(eps=None) in float64
    lnEps: 1e-5,
  });
}

/** torch state_dict name -> [our name, whether the torch tensor is the transpose of ours] */
export function torchNameToOurs(name: string): [string, boolean] | null {
  const base = name.replace(/^(to_queries|to_keys|to_values)\.0\./, '$1.');
  const table: Record<string, [string, boolean]> = {
    'retrieve_norm.weight': ['retrieveNorm', false],
    'store_norm.weight': ['storeNorm', false],
    'to_queries.weight': ['wq', true],
    'to_keys.weight': ['wk', true],
    'to_values.weight': ['wv', true],
    'q_norm.gamma': ['qNorm', false], // [h, 1, dh] -> [h, dh]
    'k_norm.gamma': ['kNorm', false],
    'combine_heads.weight': ['outW', true],
    'retrieve_gate.0.weight': ['gateW', true],
    'memory_model_parameters.0': ['memGamma', false],
    'memory_model_parameters.1': ['mem0', false],
    'memory_model_parameters.2': ['mem1', false],
    'to_adaptive_step.0.weight': ['thetaW', true],
    'to_adaptive_step.0.bias': ['thetaB', false],
    'to_momentum.0.weight': ['etaW', true],
    'to_momentum.0.bias': ['etaB', false],
    'to_decay_factor.0.weight': ['alphaW', true],
    'to_decay_factor.0.bias': ['alphaB', false],
  };
  return table[base] ?? null; // memory_model.* are unused template tensors
}

function transpose2(data: number[], rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/** a torch tensor (shape, flat data) in our layout */
export function torchToOursData(name: string, shape: number[], data: number[]): { ours: string; data: number[] } | null {
  const m = torchNameToOurs(name);
  if (!m) return null;
  const [ours, tr] = m;
  return { ours, data: tr ? transpose2(data, shape[0]!, shape[1]!) : data };
}

/** every parameter of the vectors in our naming, float64 */
export function paramsFromTorch(v: TorchVectors, c: NeuralMemoryConfig): Record<string, Float64Array> {
  const shapes = paramShapes(c);
  const out: Record<string, Float64Array> = {};
  for (const [name, t] of Object.entries(v.params)) {
    const r = torchToOursData(name, t.shape, flatten(t.data));
    if (!r) continue;
    out[r.ours] = Float64Array.from(r.data);
  }
  for (const [k, s] of Object.entries(shapes)) {
    const n = s.reduce((a, b) => a * b, 1);
    if (!out[k] || out[k]!.length !== n) throw new Error(`vectors lack parameter ${k} (${n} values)`);
  }
  for (const k of Object.keys(out)) if (!(k in shapes)) throw new Error(`vectors have unexpected parameter ${k}`);
  return out;
}

/** grad_of_objective in our naming (null entries = unused template tensors are skipped) */
export function gradsFromTorch(v: TorchVectors): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [name, g] of Object.entries(v.grad_of_objective)) {
    if (g === null) continue;
    const shape = v.params[name]!.shape;
    const r = torchToOursData(name, shape, flatten(g));
    if (r) out[r.ours] = Float64Array.from(r.data);
  }
  return out;
}

/** the input as B arrays of T x d, and (B, T) */
export function batchRows(x: Nested): { rows: Float64Array[]; B: number; T: number } {
  const arr = x as Nested[][];
  const B = arr.length;
  const T = (arr[0] as Nested[]).length;
  return { rows: arr.map((b) => Float64Array.from(flatten(b))), B, T };
}
