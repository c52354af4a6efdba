// The model on the webgpu backend (tfjs-backend-webgpu on Dawn's Node bindings), against the cpu
// backend and the float64 / titans-pytorch references, at sizes SwiftShader computes in seconds.
// In CI and on machines without a GPU, Dawn runs on SwiftShader, the Vulkan driver Debian's
// Chromium ships (/usr/lib/chromium/vk_swiftshader_icd.json): without it this file FAILS, it does
// not skip. VK_ICD_FILENAMES set in the environment is used as it is (a real GPU's driver, say).
//
// Every check runs the same computation on cpu and on webgpu from the same plain numbers and
// compares. Small tensors are not handed to the CPU (WEBGPU_CPU_FORWARD off), so the GPU
// kernels compute everything. Tolerances, stated where they are checked, are max |webgpu - cpu|
// relative to the tensor's largest magnitude unless said otherwise; on SwiftShader the measured
// errors are 1e-7 .. 3e-6 (float32 with another summation order), and a wrong kernel gives O(1).
//
// Webgpu cannot read a tensor synchronously in Node, so everything here reads with await data():
// NeuralMemory/TitansModel surprise through withAsyncSurprise, states after prefetch.
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BackendInfo, selectBackend, takeWebGPUErrors } from '../../../models/backend.js';
import { defaultConfig, type NeuralMemoryConfig } from '../../../models/memory/config.js';
import { type MemoryState, NeuralMemory, disposeState, serializeState } from '../../../models/memory/neural-memory.js';
import { withAsyncSurprise } from '../../../models/memory/surprise.js';
import { batchRows, configFromTorch, flatten, gradsFromTorch, paramsFromTorch } from '../../oracles/torch-compat.js';
import { modelConfig } from '../../../models/model/config.js';
import { generate } from '../../../models/model/generate.js';
import { trainLanguageModel } from '../../../models/model/train-lm.js';
import { ByteTokenizer } from '../../../models/tokenizer/index.js';
import { readCheckpointFileSync } from '../../../models/checkpoint/format.js';
import { disposeModelState, type ModelState, TitansModel } from '../../../models/model/model.js';
import { neuralMemory64 } from '../../oracles/memory64.js';
import { AdamW, clipByGlobalNormTensor } from '../../../models/train/optimizer.js';
import { prefetch } from '../../../models/util/readback.js';
import { VECTOR_FILES, compare, loadVectors, randomInput, randomParams, toTensor } from '../../helpers/models.js';

// where Debian's chromium puts it (TITANS_SWIFTSHADER_ICD: elsewhere)
const SWIFTSHADER_ICD = process.env.TITANS_SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';

let info: BackendInfo;

beforeAll(async () => {
  if (!process.env.VK_ICD_FILENAMES) {
    if (!existsSync(SWIFTSHADER_ICD)) {
      throw new Error(
        `the webgpu tests need SwiftShader's Vulkan driver: ${SWIFTSHADER_ICD} is missing (apt-get install chromium ships it; or set VK_ICD_FILENAMES to another Vulkan ICD)`,
      );
    }
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader when Dawn starts
  }
  const warn = console.warn;
  console.warn = () => {};
  try {
    info = await selectBackend({ force: 'webgpu' });
  } finally {
    console.warn = warn;
  }
  tf.env().set('WEBGPU_CPU_FORWARD', false); // small tensors too: the GPU kernels are what is tested
}, 60_000);

afterAll(async () => {
  await tf.setBackend('cpu');
});

// a kernel whose pipeline Dawn rejects leaves a silently wrong result: no test may cause one
afterEach(() => {
  expect(takeWebGPUErrors(), 'WebGPU validation errors').toEqual([]);
});

/** run f on cpu, then on webgpu; f builds everything from plain numbers and returns plain numbers */
async function onBoth<T>(f: () => Promise<T>): Promise<{ cpu: T; gpu: T }> {
  await tf.setBackend('cpu');
  const cpu = await f();
  await tf.setBackend('webgpu');
  const before = tf.memory().numTensors;
  const gpu = await f();
  expect(tf.memory().numTensors, 'tensors leaked on webgpu').toBe(before);
  return { cpu, gpu };
}

const read = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from((await t.data()) as Float32Array);

/** a memory state as plain arrays (prefetch: webgpu reads asynchronously) */
async function plainState(s: MemoryState) {
  await prefetch([...s.weights, ...s.momentum, ...s.gradWeights, s.carry]);
  return serializeState(s);
}

/** worst relative error over named pairs, recorded for the report */
const worst: Record<string, number> = {};
function expectClose(what: string, gpu: ArrayLike<number>, cpu: ArrayLike<number>, rel: number): void {
  const e = compare(gpu, cpu).rel;
  worst[what] = Math.max(worst[what] ?? 0, e);
  expect(e, `${what}: webgpu vs cpu`).toBeLessThan(rel);
}
afterAll(() => {
  if (process.env.TITANS_WEBGPU_REPORT) console.log('webgpu vs cpu, max relative error:', JSON.stringify(worst));
});

describe('webgpu backend', () => {
  it('starts on Dawn, names its adapter, and computes on the GPU kernels', async () => {
    expect(info).toMatchObject({ name: 'webgpu', tfName: 'webgpu', tried: [{ name: 'webgpu' }] });
    expect(info.adapter).toBeTruthy();
    if (process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD) expect(info.adapter).toMatch(/swiftshader.*software/i);
    await tf.setBackend('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false);
    // a synchronous read is refused with a message that says what to do
    const t = tf.add(tf.ones([3]), 1);
    expect(() => t.dataSync()).toThrow(/await data\(\)/);
    expect(Array.from(await t.data())).toEqual([2, 2, 2]);
    t.dispose();
  });
});

describe('NeuralMemory on webgpu', () => {
  // tolerance against titans-pytorch: cpu passes at 2e-6 .. 1e-5 (parity.test.ts); webgpu gets 2e-5
  // on values and 5e-5 on the second-order gradients
  for (const f of VECTOR_FILES) {
    it(`parity with titans-pytorch, ${f}: retrieved, state, per-token loss and lr, gradients`, async () => {
      const v = loadVectors(f);
      const c = configFromTorch(v);
      const { rows, B, T } = batchRows(v.input);
      const { cpu, gpu } = await onBoth(async () => {
        const mem = new NeuralMemory(c, { init: paramsFromTorch(v, c) });
        const x = toTensor(rows, T, c.dim);
        const r = await withAsyncSurprise(() => mem.forward(x, null, { surprise: true }));
        const retrieved = await read(r.retrieved);
        const state = await plainState(r.state);
        tf.dispose([r.retrieved]);
        disposeState(r.state);
        const probe = tf.tensor(Float32Array.from(flatten(v.probe)), [B, T, c.dim]);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mem.forward(x).retrieved, probe)) as tf.Scalar);
        const g: Record<string, Float32Array> = {};
        for (const n of Object.keys(mem.params)) g[n] = await read(grads[mem.params[n]!.name]!);
        const objective = (await value.data())[0]!;
        tf.dispose([x, probe, value, ...Object.values(grads)]);
        mem.dispose();
        return { retrieved, state, loss: r.surprise!.loss, theta: r.surprise!.theta, grads: g, objective };
      });
      // against the reference
      expect(compare(gpu.retrieved, flatten(v.retrieved)).rel).toBeLessThan(2e-5);
      const names = ['norm.gamma', 'model.weights.0', 'model.weights.1'];
      names.forEach((n, i) => {
        expect(compare(gpu.state.gradWeights[i]!, flatten(v.state.weights[n]!.data)).rel).toBeLessThan(2e-5);
        expect(compare(gpu.state.weights[i]!, flatten(v.state.last_update[n]!.data)).rel).toBeLessThan(2e-5);
        expect(compare(gpu.state.momentum[i]!, flatten(v.state.last_momentum[n]!.data)).rel).toBeLessThan(2e-5);
      });
      expect(compare(gpu.loss, flatten(v.store_loss_per_token)).rel).toBeLessThan(2e-5);
      expect(compare(gpu.theta, flatten(v.adaptive_lr_per_token)).rel).toBeLessThan(2e-5);
      const expected = gradsFromTorch(v);
      for (const n of Object.keys(expected)) expect(compare(gpu.grads[n]!, expected[n]!).rel, `grad of ${n}`).toBeLessThan(5e-5);
      // against cpu: 1e-5 on values, 5e-5 on gradients
      expectClose('parity retrieved', gpu.retrieved, cpu.retrieved, 1e-5);
      gpu.state.weights.forEach((w, i) => expectClose('parity state', w, cpu.state.weights[i]!, 1e-5));
      gpu.state.momentum.forEach((w, i) => expectClose('parity state', w, cpu.state.momentum[i]!, 1e-5));
      expectClose('parity loss/lr', gpu.loss, cpu.loss, 1e-5);
      expectClose('parity loss/lr', gpu.theta, cpu.theta, 1e-5);
      for (const n of Object.keys(cpu.grads)) expectClose('parity grads', gpu.grads[n]!, cpu.grads[n]!, 5e-5);
      expect(Math.abs(gpu.objective - cpu.objective)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpu.objective)));
    });
  }

  const titans = (over: Partial<NeuralMemoryConfig> = {}) =>
    defaultConfig({ dim: 8, heads: 2, dimHead: 4, chunkSize: 4, mode: 'titans', qkRmsNorm: true, postNorm: true, maxLr: 0.5, ...over });
  const reference = (over: Partial<NeuralMemoryConfig> = {}) =>
    defaultConfig({ dim: 8, heads: 2, dimHead: 4, chunkSize: 2, mode: 'reference', refreshInterval: 6, activation: 'silu', qkRmsNorm: true, ...over });

  for (const [label, c] of [
    ['titans mode chunk 4', titans()],
    ['reference mode chunk 2, refresh 6', reference()],
  ] as const) {
    it(`${label}: the chunked update equals the token-by-token float64 recurrence; chunks batched or one by one agree`, async () => {
      const T = 19;
      const p = randomParams(c, 12);
      const xs = randomInput(1, T, 8, 13);
      const ref = neuralMemory64(c, p, xs, T).retrieved[0]!;
      const { cpu, gpu } = await onBoth(async () => {
        const mem = new NeuralMemory(c, { init: p });
        const x = toTensor(xs, T, 8);
        const out: Float32Array[] = [];
        for (const maxChunksPerBatch of [32, 1]) {
          const r = mem.forward(x, null, { maxChunksPerBatch });
          out.push(await read(r.retrieved));
          r.retrieved.dispose();
          disposeState(r.state);
        }
        x.dispose();
        mem.dispose();
        return out;
      });
      // cpu passes the float64 reference at 5e-6 (neural-memory.test.ts); webgpu 2e-5, and cpu 1e-5
      for (const y of gpu) expect(compare(y, ref).rel).toBeLessThan(2e-5);
      expect(compare(gpu[0]!, gpu[1]!).rel).toBeLessThan(1e-6);
      expectClose('chunked vs recurrent', gpu[0]!, cpu[0]!, 1e-5);
    });
  }

  it('reading in several calls equals one call (retrieved, state, surprise tiles)', async () => {
    const c = titans();
    const T = 23;
    const p = randomParams(c, 77);
    const xs = randomInput(2, T, 8, 78);
    const { cpu, gpu } = await onBoth(async () => {
      const mem = new NeuralMemory(c, { init: p });
      const x = toTensor(xs, T, 8);
      const runs: { y: Float32Array; state: Awaited<ReturnType<typeof plainState>>; loss: Float32Array[] }[] = [];
      for (const lengths of [[T], [5, 18], [1, 3, 9, 10]]) {
        let state: MemoryState | null = null;
        let pos = 0;
        const ys: tf.Tensor[] = [];
        const loss: Float32Array[] = [];
        for (const len of lengths) {
          const part = tf.slice(x, [0, pos, 0], [2, len, 8]);
          const r = await withAsyncSurprise(() => mem.forward(part, state, { surprise: true }));
          part.dispose();
          disposeState(state);
          state = r.state;
          ys.push(r.retrieved);
          loss.push(r.surprise!.loss);
          pos += len;
        }
        const y = tf.concat(ys, 1);
        runs.push({ y: await read(y), state: await plainState(state!), loss });
        tf.dispose([...ys, y]);
        disposeState(state);
      }
      x.dispose();
      mem.dispose();
      return runs;
    });
    const [one, ...many] = gpu;
    for (const m of many) {
      // on cpu split calls are bit-identical; on webgpu the kernels depend on the shapes (matMul
      // splits long reductions, adding the parts in another order): retrieved 1e-5 (measured
      // 4e-6), fast weights after five updates 5e-5 (measured 1.4e-5)
      expectClose('split calls vs one call (webgpu): retrieved', m.y, one!.y, 1e-5);
      m.state.weights.forEach((w, k) => expectClose('split calls vs one call (webgpu): state', w, one!.state.weights[k]!, 5e-5));
      m.state.momentum.forEach((w, k) => expectClose('split calls vs one call (webgpu): state', w, one!.state.momentum[k]!, 5e-5));
      expect(m.state.carry?.shape).toEqual(one!.state.carry?.shape);
      // per-memory rows [G, n] of the split calls, laid end to end, equal the one call's
      const G = 2 * c.heads;
      const L = one!.loss[0]!.length / G;
      const tiled: number[] = [];
      for (let g = 0; g < G; g++) for (const part of m.loss) tiled.push(...part.subarray((g * part.length) / G, ((g + 1) * part.length) / G));
      expect(tiled.length).toBe(G * L);
      expectClose('split calls vs one call (webgpu): surprise', tiled, one!.loss[0]!, 1e-5);
    }
    expectClose('split calls: retrieved', one!.y, cpu[0]!.y, 1e-5);
    one!.state.weights.forEach((w, k) => expectClose('split calls: state', w, cpu[0]!.state.weights[k]!, 5e-5));
  });

  it('is causal: changing token j changes no retrieved output before j', async () => {
    const c = titans();
    const T = 16;
    const d = 8;
    const p = randomParams(c, 21);
    const base = randomInput(1, T, d, 22)[0]!;
    const { cpu, gpu } = await onBoth(async () => {
      const mem = new NeuralMemory(c, { init: p });
      const run = async (xa: Float64Array) => {
        const x = toTensor([xa], T, d);
        const r = mem.forward(x);
        const y = await read(r.retrieved);
        tf.dispose([x, r.retrieved]);
        disposeState(r.state);
        return y;
      };
      const out = [await run(base)];
      for (const j of [3, 4]) { // the last token of chunk 0, the first of chunk 1
        const xa = base.slice();
        for (let k = 0; k < d; k++) xa[j * d + k]! += 1.5;
        out.push(await run(xa));
      }
      mem.dispose();
      return out;
    });
    [3, 4].forEach((j, i) => {
      const y1 = gpu[i + 1]!;
      for (let t = 0; t <= j; t++) {
        const diff = compare(y1.slice(t * d, (t + 1) * d), gpu[0]!.slice(t * d, (t + 1) * d)).maxAbs;
        if (t < j) expect(diff, `token ${t} changed when token ${j} did`).toBeLessThan(1e-6);
        else expect(diff, `token ${j} did not see its own change`).toBeGreaterThan(1e-3);
      }
    });
    gpu.forEach((y, i) => expectClose('causality', y, cpu[i]!, 1e-5));
  });
});

describe('TitansModel on webgpu', () => {
  const small = (layers = 1) => modelConfig({ arch: 'mac', dim: 32, layers, heads: 2, segment: 8, window: 6, persistentTokens: 2, vocabSize: 40, memory: { chunkSize: 4, heads: 1 } });
  const ids = (T: number, seed: number) => {
    let s = seed;
    return Array.from({ length: T }, () => (s = (s * 1103515245 + 12345) % 2147483648) % 40);
  };
  const tokens = (xs: number[][]) => tf.tensor2d(xs, [xs.length, xs[0]!.length], 'int32');
  /** f(ids tensor), the tensor disposed after */
  const withIds = async <T>(xs: number[][], f: (t: tf.Tensor) => T | Promise<T>): Promise<T> => {
    const t = tokens(xs);
    try {
      return await f(t);
    } finally {
      t.dispose();
    }
  };
  /** the parameters as plain arrays (seeded initialisation must not depend on the backend) */
  const plainParams = async (m: TitansModel) => {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(m.params.all)) out[k] = await read(v);
    return out;
  };

  it('MAC reads a text in pieces as in one call, with surprise; causal', async () => {
    const seq = ids(21, 3);
    const { cpu, gpu } = await onBoth(async () => {
      const model = new TitansModel(small(), { seed: 1 });
      const params = await plainParams(model);
      const whole = await withIds([seq], (t) => model.forwardAsync(t, null, { surprise: true }));
      const wholeLogits = await read(whole.logits);
      const surprise = whole.surprise!.flatMap((layer) => layer.map((s) => s.gradNorm[0]!));
      let state: ModelState | null = null;
      const parts: number[] = [];
      for (const [a, b] of [[0, 5], [5, 13], [13, 21]] as const) { // cuts mid-segment (8) and mid-chunk (4)
        const r = await withIds([seq.slice(a, b)], (t) => model.forwardAsync(t, state));
        disposeModelState(state);
        state = r.state;
        parts.push(...(await read(r.logits)));
        r.logits.dispose();
      }
      disposeModelState(state);
      // causality: token 13 changed
      const other = seq.slice();
      other[13] = (other[13]! + 7) % 40;
      const changed = await withIds([other], (t) => model.forward(t));
      const changedLogits = await read(changed.logits);
      tf.dispose([whole.logits, changed.logits]);
      disposeModelState(whole.state);
      disposeModelState(changed.state);
      model.dispose();
      return { params, wholeLogits, parts: Float32Array.from(parts), changedLogits, surprise };
    });
    for (const k of Object.keys(cpu.params)) expect(compare(gpu.params[k]!, cpu.params[k]!).maxAbs, `param ${k}`).toBe(0);
    // pieces vs one call: the cpu test allows 2e-4 absolute on logits; webgpu is held to the same
    expect(compare(gpu.parts, gpu.wholeLogits).maxAbs).toBeLessThan(2e-4);
    const V = 40;
    for (let t = 0; t < 13; t++) {
      expect(compare(gpu.changedLogits.subarray(t * V, (t + 1) * V), gpu.wholeLogits.subarray(t * V, (t + 1) * V)).maxAbs, `position ${t}`).toBeLessThan(1e-5);
    }
    expect(compare(gpu.changedLogits.subarray(13 * V, 14 * V), gpu.wholeLogits.subarray(13 * V, 14 * V)).maxAbs).toBeGreaterThan(1e-4);
    expectClose('model logits', gpu.wholeLogits, cpu.wholeLogits, 1e-5);
    expectClose('model logits', gpu.parts, cpu.parts, 1e-5);
    expect(gpu.surprise.length).toBe(cpu.surprise.length);
    gpu.surprise.forEach((s, i) => expectClose('model surprise', s, cpu.surprise[i]!, 1e-4));
  });

  it('generation with the state as cache: the same tokens as cpu, and as re-reading everything on webgpu', async () => {
    const prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    const n = 5;
    const { cpu, gpu } = await onBoth(async () => {
      const model = new TitansModel(small(), { seed: 7 });
      const out: number[] = [];
      const gen = generate(model, prompt, { maxTokens: n });
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          disposeModelState(r.value);
          break;
        }
        out.push(r.value);
      }
      // re-reading prompt + generated for the last token's logits (no cache)
      const seq = [...prompt, ...out.slice(0, -1)];
      const r = await withIds([seq], (t) => model.forward(t));
      const last = tf.slice(r.logits, [0, seq.length - 1, 0], [1, 1, 40]);
      const logits = await read(last);
      tf.dispose([r.logits, last]);
      disposeModelState(r.state);
      model.dispose();
      return { out, logits };
    });
    expect(gpu.out).toHaveLength(n);
    expect(gpu.out).toEqual(cpu.out);
    let best = 0;
    for (let i = 1; i < 40; i++) if (gpu.logits[i]! > gpu.logits[best]!) best = i;
    expect(best).toBe(gpu.out[n - 1]); // the cached path chose what re-reading chooses
    expectClose('generation logits', gpu.logits, cpu.logits, 1e-5);
  });

  it('one training step (loss, gradients, clipped AdamW update) equals cpu', async () => {
    const pattern = [1, 2, 3, 4, 5, 6, 7, 8];
    const rows = [Array.from({ length: 17 }, (_, i) => pattern[i % 8]!), Array.from({ length: 17 }, (_, i) => pattern[(i + 3) % 8]!)];
    const lr = 3e-3;
    const weightDecay = 0.01;
    const { cpu, gpu } = await onBoth(async () => {
      const model = new TitansModel(small(), { seed: 3 });
      const before = await plainParams(model);
      const batch = tokens(rows);
      const opt = new AdamW(model.params.all, { weightDecay });
      const out = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => model.loss(batch), Object.values(model.params.all));
        const named: Record<string, tf.Tensor> = {};
        for (const [k, v] of Object.entries(model.params.all)) named[k] = grads[v.name]!;
        const clipped = clipByGlobalNormTensor(named, 1);
        return { value, norm: clipped.norm, grads: clipped.grads };
      });
      const loss = (await out.value.data())[0]!;
      const norm = (await out.norm.data())[0]!;
      const grads: Record<string, Float32Array> = {};
      for (const [k, g] of Object.entries(out.grads)) grads[k] = await read(g);
      opt.apply(out.grads, lr);
      tf.dispose([out.value, out.norm, ...Object.values(out.grads)]);
      const after = await plainParams(model);
      const l = model.loss(batch);
      const lossAfter = (await l.data())[0]!;
      const decayed = [...opt.decayed];
      tf.dispose([l, batch]);
      opt.dispose();
      model.dispose();
      return { before, loss, norm, grads, after, lossAfter, decayed };
    });
    expect(Math.abs(gpu.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-6);
    expect(Math.abs(gpu.norm - cpu.norm) / cpu.norm).toBeLessThan(1e-5);
    expect(gpu.norm).toBeGreaterThan(1); // the clipping is exercised
    for (const k of Object.keys(cpu.grads)) expectClose('training gradients', gpu.grads[k]!, cpu.grads[k]!, 1e-4);
    // AdamW's first step moves each parameter by lr g / (|g| + eps) (+ decay): the update of
    // webgpu's own gradients, in float64, within 1e-6. (Against cpu's parameters the step differs by
    // up to 2e-4 relative: gradients of ~5e-9, near eps = 1e-8, magnify float32 differences.)
    for (const k of Object.keys(gpu.after)) {
      const p0 = gpu.before[k]!;
      const g = gpu.grads[k]!;
      const decay = gpu.decayed.includes(k) ? 1 - lr * weightDecay : 1;
      const expected = Float64Array.from(p0, (p, i) => p * decay - (lr * g[i]!) / (Math.abs(g[i]!) + 1e-8));
      const e = compare(gpu.after[k]!, expected).maxAbs;
      worst['training step vs float64 AdamW (abs)'] = Math.max(worst['training step vs float64 AdamW (abs)'] ?? 0, e);
      expect(e, `AdamW update of ${k}`).toBeLessThan(1e-6);
    }
    expect(gpu.lossAfter).toBeLessThan(gpu.loss);
    expect(Math.abs(gpu.lossAfter - cpu.lossAfter) / cpu.lossAfter).toBeLessThan(1e-5);
  });

  it('fine-tuning (trainLanguageModel: held-out evaluation, steps, a checkpoint) runs as on cpu', async () => {
    const text = 'the keeper counted the gulls and wrote the number down; '.repeat(6);
    const dir = mkdtempSync(path.join(tmpdir(), 'titans-webgpu-train-'));
    try {
      const { cpu, gpu } = await onBoth(async () => {
        const model = new TitansModel(modelConfig({ arch: 'mac', dim: 32, layers: 1, heads: 2, segment: 8, persistentTokens: 2, vocabSize: 260, memory: { chunkSize: 4, heads: 1 } }), { seed: 5 });
        const losses: number[] = [];
        const checkpointPath = path.join(dir, `${tf.getBackend()}.ckpt`);
        const r = await trainLanguageModel({ model, tokenizer: new ByteTokenizer(), texts: [text], steps: 2, batchSize: 2, seqLen: 16, heldOut: 0.25, evalWindows: 2, seed: 3, checkpointPath, checkpointEvery: 1, onStep: (m) => losses.push(m.loss) });
        const saved = readCheckpointFileSync(checkpointPath).tensors.find((t) => t.name === 'embed')!.data as Float32Array;
        const embed = await read(model.params.all.embed!);
        model.dispose();
        return { losses, before: r.heldOutBefore, after: r.heldOutAfter, saved, embed };
      });
      expect(gpu.losses).toHaveLength(2);
      gpu.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]!) / cpu.losses[i]!).toBeLessThan(1e-5));
      expect(Math.abs(gpu.before - cpu.before) / cpu.before).toBeLessThan(1e-5);
      expect(Math.abs(gpu.after - cpu.after) / cpu.after).toBeLessThan(1e-5);
      expect(compare(gpu.saved, gpu.embed).maxAbs).toBe(0); // the checkpoint holds the trained weights
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
