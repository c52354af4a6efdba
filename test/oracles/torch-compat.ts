// Mapping between titans-pytorch NeuralMemory (commit cc016eb) and our module, for the parity tests
// with test/fixtures/titans-vectors (docs/titans.md section 5). Plain numbers only (no tfjs). The
// memory MLP (any depth, hidden width, ResidualNorm or bare) is read from the state's shapes
// (memoryLayoutFromTorch); stateFromTorch maps a titans-pytorch NeuralMemState to our layout.

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
  params: Record<string, TorchTensor>;
  input: Nested;
  retrieved: Nested;
  state: {
    seq_index: number;
    weights: Record<string, TorchTensor>;
    last_update: Record<string, TorchTensor>;
    last_momentum: Record<string, TorchTensor>;
    updates: Record<string, TorchTensor>;
    cache_store_segment: Nested;
  };
  store_loss_per_token: Nested;
  adaptive_lr_per_token: Nested;
  probe: Nested;
  objective: number;
  grad_of_objective: Record<string, Nested | null>;
}

/** a tensor of the vectors: its torch shape and nested data */
export interface TorchTensor {
  shape: number[];
  data: Nested;
}

/**
 * The memory MLP of the vectors, read from the shapes of its state (titans-pytorch state names,
 * `norm.gamma` when ResidualNorm wraps the MLP, then `model.weights.0 .. L-1`; a bare MemoryMLP
 * has `weights.0 .. L-1`): any depth L >= 1, widths dims = (dh, hidden x (L-1), dh).
 */
export interface TorchMemoryLayout {
  depth: number;
  dimHead: number;
  /** hidden width of the MLP (= dimHead when depth = 1: there is none) */
  hidden: number;
  /** ResidualNorm: M(x) = x + LN(MLP(x)) * (gamma + 1) */
  normResidual: boolean;
  /** titans-pytorch state names in our fast-weight order (memParamNames: memGamma?, mem0 ..) */
  stateNames: string[];
}

export function memoryLayoutFromTorch(v: Pick<TorchVectors, 'state'>): TorchMemoryLayout {
  const w = v.state.weights;
  const normResidual = 'norm.gamma' in w;
  const weightName = (l: number) => (normResidual ? `model.weights.${l}` : `weights.${l}`);
  let depth = 0;
  while (weightName(depth) in w) depth++;
  if (depth === 0) throw new Error(`no memory MLP weights in the state (names: ${Object.keys(w).join(', ')})`);
  const stateNames = [...(normResidual ? ['norm.gamma'] : []), ...Array.from({ length: depth }, (_, l) => weightName(l))];
  const extra = Object.keys(w).filter((n) => !stateNames.includes(n));
  if (extra.length > 0) throw new Error(`unexpected memory state tensors ${extra.join(', ')}`);
  const shapes = Array.from({ length: depth }, (_, l) => w[weightName(l)]!.shape); // [G, in, out]
  const dimHead = shapes[0]![1]!;
  const hidden = depth > 1 ? shapes[0]![2]! : dimHead;
  shapes.forEach((s, l) => {
    const want = [l === 0 ? dimHead : hidden, l === depth - 1 ? dimHead : hidden];
    if (s.length !== 3 || s[1] !== want[0] || s[2] !== want[1]) throw new Error(`${weightName(l)} has shape [${s.join(', ')}], expected [G, ${want.join(', ')}]`);
  });
  if (normResidual && w['norm.gamma']!.shape[1] !== dimHead) throw new Error('norm.gamma does not match the head width');
  return { depth, dimHead, hidden, normResidual, stateNames };
}

/** our config equivalent to the vectors' NeuralMemory(...) call; the memory MLP's depth, width and
 *  ResidualNorm are read from the state's shapes (memoryLayoutFromTorch) */
export function configFromTorch(v: TorchVectors): NeuralMemoryConfig {
  const c = v.ctor;
  const dim = c.dim as number;
  const act = v.ctor_extra_repr.activation;
  if (act !== undefined && act !== 'SiLU()') throw new Error(`unsupported activation ${act}`);
  const mlp = memoryLayoutFromTorch(v);
  const dimHead = (c.dim_head as number | undefined) ?? dim;
  if (mlp.dimHead !== dimHead) throw new Error(`memory MLP width ${mlp.dimHead} != dim_head ${dimHead}`);
  return defaultConfig({
    dim,
    mode: 'reference',
    heads: (c.heads as number | undefined) ?? 1,
    dimHead,
    chunkSize: (c.chunk_size as number | undefined) ?? 1,
    refreshInterval: (c.batch_size as number | null | undefined) ?? null,
    qkRmsNorm: (c.qk_rmsnorm as boolean | undefined) ?? false,
    maxLr: (c.default_step_transform_max_lr as number | undefined) ?? 1,
    activation: act === 'SiLU()' ? 'silu' : 'none',
    depth: mlp.depth,
    expansion: mlp.depth > 1 ? mlp.hidden / mlp.dimHead : 4, // depth 1 has no hidden layer
    normResidual: mlp.normResidual,
    preNorm: true,
    postNorm: false,
    rmsEps: FLOAT64_EPS, // nn.RMSNorm(eps=None) in float64
    lnEps: 1e-5,
  });
}

const FIXED_NAMES: Record<string, [string, boolean]> = {
  'retrieve_norm.weight': ['retrieveNorm', false],
  'store_norm.weight': ['storeNorm', false],
  'to_queries.weight': ['wq', true],
  'to_keys.weight': ['wk', true],
  'to_values.weight': ['wv', true],
  'q_norm.gamma': ['qNorm', false], // [h, 1, dh] -> [h, dh]
  'k_norm.gamma': ['kNorm', false],
  'combine_heads.weight': ['outW', true],
  'retrieve_gate.0.weight': ['gateW', true],
  'to_adaptive_step.0.weight': ['thetaW', true],
  'to_adaptive_step.0.bias': ['thetaB', false],
  'to_momentum.0.weight': ['etaW', true],
  'to_momentum.0.bias': ['etaB', false],
  'to_decay_factor.0.weight': ['alphaW', true],
  'to_decay_factor.0.bias': ['alphaB', false],
};

/** our fast-weight names in memParamNames order (memGamma?, mem0 .. mem{L-1}) */
function ourMemoryNames(mlp: TorchMemoryLayout): string[] {
  return [...(mlp.normResidual ? ['memGamma'] : []), ...Array.from({ length: mlp.depth }, (_, l) => `mem${l}`)];
}

/** torch state_dict name -> [our name, whether the torch tensor is the transpose of ours].
 *  memory_model_parameters.i (the learned W0 per head) is the i-th memory tensor in titans-pytorch
 *  order: gamma first when ResidualNorm wraps the MLP, then the layers. */
export function torchNameToOurs(name: string, mlp: TorchMemoryLayout): [string, boolean] | null {
  const base = name.replace(/^(to_queries|to_keys|to_values)\.0\./, '$1.');
  const m = /^memory_model_parameters\.(\d+)$/.exec(base);
  if (m) {
    const ours = ourMemoryNames(mlp)[Number(m[1])];
    if (!ours) throw new Error(`${name}: the memory has only ${ourMemoryNames(mlp).length} tensors`);
    return [ours, false];
  }
  return FIXED_NAMES[base] ?? null; // memory_model.* are unused template tensors
}

function transpose2(data: number[], rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/** a torch tensor (shape, flat data) in our layout */
export function torchToOursData(name: string, shape: number[], data: number[], mlp: TorchMemoryLayout): { ours: string; data: number[] } | null {
  const m = torchNameToOurs(name, mlp);
  if (!m) return null;
  const [ours, tr] = m;
  return { ours, data: tr ? transpose2(data, shape[0]!, shape[1]!) : data };
}

/** every parameter of the vectors in our naming, float64 */
export function paramsFromTorch(v: TorchVectors, c: NeuralMemoryConfig): Record<string, Float64Array> {
  const shapes = paramShapes(c);
  const mlp = memoryLayoutFromTorch(v);
  const out: Record<string, Float64Array> = {};
  for (const [name, t] of Object.entries(v.params)) {
    const r = torchToOursData(name, t.shape, flatten(t.data), mlp);
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
  const mlp = memoryLayoutFromTorch(v);
  const out: Record<string, Float64Array> = {};
  for (const [name, g] of Object.entries(v.grad_of_objective)) {
    if (g === null) continue;
    const shape = v.params[name]!.shape;
    const r = torchToOursData(name, shape, flatten(g), mlp);
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

/** A titans-pytorch NeuralMemState in our layout (float64; SerializedMemoryState's fields): per
 *  fast-weight tensor in memParamNames order, shapes [B*h, ...]. */
export interface StateFromTorch {
  /** absolute position of the next token: tokens stored (seq_index) + the unfinished chunk's */
  pos: number;
  batch: number;
  /** our fast-weight names (memGamma?, mem0 .. mem{L-1}) */
  names: string[];
  shapes: number[][];
  /** last_update: the current weights W */
  weights: Float64Array[];
  /** last_momentum (its leading momentum-order axis of 1 dropped): S */
  momentum: Float64Array[];
  /** weights: where the next gradients are taken (titans-pytorch batch_size refresh) */
  gradWeights: Float64Array[];
  /** cache_store_segment: raw inputs [B, n, d] of the unfinished chunk, null when empty */
  carry: { shape: number[]; data: Float64Array } | null;
}

export function stateFromTorch(v: Pick<TorchVectors, 'state'>, heads: number): StateFromTorch {
  const mlp = memoryLayoutFromTorch(v);
  const G = v.state.weights[mlp.stateNames[0]!]!.shape[0]!;
  if (G % heads !== 0) throw new Error(`${G} memories are not a multiple of ${heads} heads`);
  const shapes = mlp.stateNames.map((n) => v.state.weights[n]!.shape.slice());
  const read = (part: Record<string, TorchTensor>, dropLead: boolean) =>
    mlp.stateNames.map((n, i) => {
      const t = part[n];
      if (!t) throw new Error(`state lacks ${n}`);
      const shape = dropLead ? t.shape.slice(1) : t.shape;
      if (dropLead && t.shape[0] !== 1) throw new Error(`${n}: momentum order ${t.shape[0]} (only 1 is supported)`);
      if (shape.join() !== shapes[i]!.join()) throw new Error(`${n} has shape [${t.shape.join(', ')}], expected [${shapes[i]!.join(', ')}]`);
      return Float64Array.from(flatten(t.data));
    });
  const cache = v.state.cache_store_segment as Nested[];
  const cacheShape = shapeOf(cache);
  const n = cacheShape.length === 3 ? cacheShape[1]! : 0;
  return {
    pos: v.state.seq_index + n,
    batch: G / heads,
    names: ourMemoryNames(mlp),
    shapes,
    weights: read(v.state.last_update, false),
    momentum: read(v.state.last_momentum, true),
    gradWeights: read(v.state.weights, false),
    carry: n > 0 ? { shape: cacheShape, data: Float64Array.from(flatten(cache)) } : null,
  };
}

/** the shape of a nested array (by its first elements) */
function shapeOf(x: Nested): number[] {
  const s: number[] = [];
  for (let t: Nested = x; Array.isArray(t); t = t[0] as Nested) {
    s.push(t.length);
    if (t.length === 0) break;
  }
  return s;
}
