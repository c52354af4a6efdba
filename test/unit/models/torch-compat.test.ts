// The titans-pytorch mapping (test/oracles/torch-compat.ts) reads the memory MLP's depth, width and
// ResidualNorm from the state's shapes: titans-pytorch states of depth 1 and 3 (generated here, every
// value tagged by its tensor and index) map to our names, shapes and layout, and load into a
// NeuralMemory that then reads on from them. The shipped vectors (depth 2) map as before.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { hiddenWidth, memLayerDims, memParamNames, paramShapes } from '../../../models/memory/config.js';
import { NeuralMemory, deserializeState, disposeState } from '../../../models/memory/neural-memory.js';
import {
  type TorchTensor,
  type TorchVectors,
  batchRows,
  configFromTorch,
  flatten,
  gradsFromTorch,
  memoryLayoutFromTorch,
  paramsFromTorch,
  stateFromTorch,
  torchNameToOurs,
} from '../../oracles/torch-compat.js';
import { VECTOR_FILES, loadVectors, useBackend } from '../../helpers/models.js';

type Nested = number | Nested[];

function nest(flat: number[], shape: number[]): Nested {
  if (shape.length === 0) return flat[0]!;
  const [n, ...rest] = shape as [number, ...number[]];
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), rest));
}

let nextTag = 1;
/** a tensor whose value at flat index i is tag + i / 1e4 (tags tell the tensors apart) */
function tagged(shape: number[]): TorchTensor & { flat: number[] } {
  const tag = nextTag++;
  const n = shape.reduce((a, b) => a * b, 1);
  const flat = Array.from({ length: n }, (_, i) => tag + i / 1e4);
  return { shape, data: nest(flat, shape), flat };
}

/** titans-pytorch NeuralMemory(dim 8, heads 2, dim_head 4, chunk_size 2) vectors with a memory MLP
 *  of `depth` layers (hidden width `hidden`), wrapped in ResidualNorm or bare, after 5 tokens of a
 *  batch of B (4 stored, 1 in cache_store_segment) */
function torchVectors(depth: number, hidden: number, normResidual: boolean, B: number) {
  const d = 8;
  const h = 2;
  const dh = 4;
  const G = B * h;
  const dims = [dh, ...new Array<number>(depth - 1).fill(hidden), dh];
  const memShapes = [...(normResidual ? [[dh]] : []), ...Array.from({ length: depth }, (_, l) => [dims[l]!, dims[l + 1]!])];
  const stateNames = [...(normResidual ? ['norm.gamma'] : []), ...Array.from({ length: depth }, (_, l) => (normResidual ? `model.weights.${l}` : `weights.${l}`))];
  const params: Record<string, TorchTensor & { flat: number[] }> = {
    'retrieve_norm.weight': tagged([d]),
    'store_norm.weight': tagged([d]),
    'combine_heads.weight': tagged([d, h * dh]),
    'retrieve_gate.0.weight': tagged([h, d]),
    'to_queries.0.weight': tagged([h * dh, d]),
    'to_keys.0.weight': tagged([h * dh, d]),
    'to_values.0.weight': tagged([h * dh, d]),
    'to_adaptive_step.0.weight': tagged([h, d]),
    'to_adaptive_step.0.bias': tagged([h]),
    'to_momentum.0.weight': tagged([h, d]),
    'to_momentum.0.bias': tagged([h]),
    'to_decay_factor.0.weight': tagged([h, d]),
    'to_decay_factor.0.bias': tagged([h]),
  };
  stateNames.forEach((n, i) => {
    params[`memory_model.${n}`] = tagged(memShapes[i]!); // the unused template
    params[`memory_model_parameters.${i}`] = tagged([h, ...memShapes[i]!]);
  });
  const part = (lead: number[]) => Object.fromEntries(stateNames.map((n, i) => [n, tagged([...lead, ...memShapes[i]!])]));
  const state = {
    seq_index: 4,
    weights: part([G]),
    last_update: part([G]),
    last_momentum: part([1, G]),
    updates: part([G, 3]),
    cache_store_segment: tagged([B, 1, d]).data,
  };
  const grads = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, n.startsWith('memory_model.') ? null : tagged(t.shape).data]));
  const v: TorchVectors = {
    note: `generated: depth ${depth}`,
    ctor: { dim: d, heads: h, dim_head: dh, chunk_size: 2 },
    ctor_extra_repr: {},
    params,
    input: tagged([B, 5, d]).data,
    retrieved: tagged([B, 5, d]).data,
    state,
    store_loss_per_token: [],
    adaptive_lr_per_token: [],
    probe: [],
    objective: 0,
    grad_of_objective: grads,
  };
  return { v, params, state, stateNames, G, dims };
}

describe('titans-pytorch mapping of any memory depth', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  const cases = [
    { depth: 1, hidden: 4, normResidual: true, B: 1 },
    { depth: 3, hidden: 12, normResidual: true, B: 2 },
    { depth: 1, hidden: 4, normResidual: false, B: 2 },
    { depth: 3, hidden: 8, normResidual: false, B: 1 },
  ];
  for (const k of cases) {
    it(`depth ${k.depth}, hidden ${k.hidden}, ${k.normResidual ? 'ResidualNorm' : 'bare MemoryMLP'}, batch ${k.B}: config, parameters, state`, () => {
      const { v, params, state, stateNames, G, dims } = torchVectors(k.depth, k.hidden, k.normResidual, k.B);

      const mlp = memoryLayoutFromTorch(v);
      expect(mlp).toEqual({ depth: k.depth, dimHead: 4, hidden: k.depth > 1 ? k.hidden : 4, normResidual: k.normResidual, stateNames });
      const c = configFromTorch(v);
      expect(c.depth).toBe(k.depth);
      expect(c.normResidual).toBe(k.normResidual);
      expect(memLayerDims(c)).toEqual(dims);
      if (k.depth > 1) expect(hiddenWidth(c)).toBe(k.hidden);
      const ours = memParamNames(c);
      expect(ours).toEqual([...(k.normResidual ? ['memGamma'] : []), ...Array.from({ length: k.depth }, (_, l) => `mem${l}`)]);

      // parameters: W0 per head is memory_model_parameters.i, in the same order as the state names
      const p = paramsFromTorch(v, c);
      const shapes = paramShapes(c);
      expect(Object.keys(p).sort()).toEqual(Object.keys(shapes).sort());
      ours.forEach((name, i) => {
        expect(torchNameToOurs(`memory_model_parameters.${i}`, mlp)).toEqual([name, false]);
        expect(shapes[name]).toEqual(params[`memory_model_parameters.${i}`]!.shape);
        expect(Array.from(p[name]!)).toEqual(params[`memory_model_parameters.${i}`]!.flat);
      });
      expect(() => torchNameToOurs(`memory_model_parameters.${ours.length}`, mlp)).toThrow(/only/);
      // a torch Linear weight [out, in] is our [in, out]
      const wq = params['to_queries.0.weight']!;
      const [out, inn] = wq.shape as [number, number];
      expect(shapes.wq).toEqual([inn, out]);
      for (let i = 0; i < inn; i++) for (let j = 0; j < out; j++) expect(p.wq![i * out + j]).toBe(wq.flat[j * inn + i]);
      expect(Object.keys(gradsFromTorch(v)).sort()).toEqual(Object.keys(shapes).sort());

      // state: [B*h, ...] per fast-weight tensor in our order, values where titans-pytorch has them
      const z = stateFromTorch(v, c.heads);
      expect(z.names).toEqual(ours);
      expect(z.batch).toBe(k.B);
      expect(z.pos).toBe(5);
      expect(z.shapes).toEqual(ours.map((n) => [G, ...shapes[n]!.slice(1)]));
      stateNames.forEach((n, i) => {
        expect(Array.from(z.weights[i]!)).toEqual((state.last_update[n] as { flat: number[] }).flat);
        expect(Array.from(z.gradWeights[i]!)).toEqual((state.weights[n] as { flat: number[] }).flat);
        expect(Array.from(z.momentum[i]!)).toEqual((state.last_momentum[n] as { flat: number[] }).flat);
      });
      expect(z.carry!.shape).toEqual([k.B, 1, 8]);
      expect(Array.from(z.carry!.data)).toEqual(flatten(state.cache_store_segment));

      // the mapped parameters and state are what our memory takes: it reads on from them
      const scale = (a: ArrayLike<number>) => Float32Array.from(a, (x) => (x % 1) * 0.1); // small values
      const init = Object.fromEntries(Object.entries(p).map(([n, a]) => [n, scale(a)]));
      const mem = new NeuralMemory(c, { init });
      const s0 = deserializeState({
        version: 1,
        pos: z.pos,
        batch: z.batch,
        shapes: z.shapes,
        weights: z.weights.map(scale),
        momentum: z.momentum.map(scale),
        gradWeights: z.gradWeights.map(scale),
        carry: z.carry ? { shape: z.carry.shape, data: scale(z.carry.data) } : null,
      });
      const x = tf.fill([k.B, 3, c.dim], 0.1);
      const r = mem.forward(x, s0);
      expect(r.retrieved.shape).toEqual([k.B, 3, c.dim]);
      expect(Array.from(r.retrieved.dataSync()).every(Number.isFinite)).toBe(true);
      expect(r.state.pos).toBe(8);
      expect(r.state.weights.map((w) => w.shape)).toEqual(z.shapes);
      tf.dispose([x, r.retrieved]);
      disposeState(r.state);
      disposeState(s0);
      mem.dispose();
    });
  }

  it('a state without memory weights, or with a layer of the wrong width, is refused', () => {
    const { v } = torchVectors(3, 12, true, 1);
    const bad = structuredClone(v);
    bad.state.weights['model.weights.1']!.shape = [2, 12, 8];
    expect(() => memoryLayoutFromTorch(bad)).toThrow(/model\.weights\.1 has shape/);
    expect(() => memoryLayoutFromTorch({ state: { ...v.state, weights: {} } })).toThrow(/no memory MLP weights/);
  });

  for (const f of VECTOR_FILES) {
    it(`${f} (titans-pytorch's own vectors): depth 2, ResidualNorm, the state as before`, () => {
      const v = loadVectors(f);
      const mlp = memoryLayoutFromTorch(v);
      expect(mlp.stateNames).toEqual(['norm.gamma', 'model.weights.0', 'model.weights.1']);
      const c = configFromTorch(v);
      expect([c.depth, c.expansion, c.normResidual]).toEqual([2, 4, true]);
      const z = stateFromTorch(v, c.heads);
      const { B, T } = batchRows(v.input);
      expect([z.pos, z.batch]).toEqual([T, B]);
      mlp.stateNames.forEach((n, i) => expect(Array.from(z.weights[i]!)).toEqual(flatten(v.state.last_update[n]!.data)));
      expect(z.carry ? Array.from(z.carry.data) : []).toEqual(flatten(v.state.cache_store_segment));
    });
  }
});
