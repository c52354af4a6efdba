// The reading step on onnxruntime (issue 17, item 3: "another engine for the reading path").
//
// One call reads one whole MAC segment from a state at a segment boundary: the forward pass, the
// memory's update (Eq. 13-14) and retrieval (Eq. 15) and the surprise signals, exactly what
// TitansModel.forward(ids, state, { surprise: true }) computes for that segment, in a graph traced
// from the PyTorch twin (train/torch/export_onnx.py; docs/onnx-reading.md). onnxruntime runs it
// with fused, multi-threaded CPU kernels at several times tfjs-wasm's speed.
//
// The graph holds no weights: the model's parameters are inputs, bound as constants when the
// session opens (bind-weights.ts), so one graph
// serves every model of its shape (the shipped default and its fine-tunes). The state crosses as
// the tensors of models/model/io.ts stateToCheckpoint, by the same names, so a reading can pass
// between the engines at any segment boundary (tfjs reads the first segment and any last partial
// one; every checkpoint is a tfjs ModelState).
import type * as Ort from 'onnxruntime-node';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Checkpoint, CheckpointTensor, JsonValue } from '../checkpoint/format.js';
import { memParamNames } from '../memory/config.js';
import type { SurpriseReport } from '../memory/surprise.js';
import type { ModelConfig } from '../model/config.js';
import { stateFromCheckpoint, stateToCheckpoint } from '../model/io.js';
import type { TitansModel } from '../model/model.js';
import type { ModelState } from '../model/state.js';
import { bindWeights, graphInputNames, type WeightTensor } from './bind-weights.js';

/** the graph's sidecar (GRAPH.json beside GRAPH.onnx), written with the graph */
export interface ReadingGraphInfo {
  /** the .onnx file, relative to the sidecar */
  graph: string;
  sha256: string;
  /** the model shape the graph was traced for; a model must have exactly this config */
  config: ModelConfig;
  /** tokens per call: one MAC segment */
  segment: number;
}

/** A reading state held as plain arrays between onnxruntime calls (a ModelState at a segment boundary). */
export interface OnnxState {
  pos: number;
  /** by stateToCheckpoint's names: l{i}.mem.w{j}, l{i}.mem.s{j}, l{i}.mem.carry, l{i}.queryContext */
  tensors: Map<string, { data: Float32Array; dims: number[] }>;
}

export interface OnnxStepResult {
  /** [T, V] */
  logits: Float32Array;
  state: OnnxState;
  /** per layer, one report (the segment's memory call), as TitansModel.forward gives them */
  surprise: SurpriseReport[][];
}

interface LayerMeta {
  mem: { pos: number; batch: number; tensors: number; carry: boolean; gradIsWeights: boolean } | null;
  memAtSegment: string;
  memAtSegmentMeta: unknown;
  present: string[];
}

/** keys sorted at every level, so two equal configs compare equal as text */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function sameShape(a: ModelConfig, b: ModelConfig): boolean {
  return canonical(a) === canonical(b);
}

/** the sidecar of a graph, or why it cannot be used */
export function readGraphInfo(sidecar: string): ReadingGraphInfo {
  const info = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as ReadingGraphInfo;
  if (typeof info.graph !== 'string' || typeof info.sha256 !== 'string' || !info.config || !(info.segment > 0)) {
    throw new Error(`${sidecar}: not a reading-graph sidecar (graph, sha256, config, segment)`);
  }
  return info;
}

export class OnnxReadingStep {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    private readonly config: ModelConfig,
    /** tokens per call */
    readonly segment: number,
    /** onnxruntime's intra-op threads */
    readonly threads: number,
  ) {}

  /**
   * The engine for `model` from the graph whose sidecar is `sidecar`, or null with the reason when
   * it does not apply (another shape, onnxruntime missing on this platform, a damaged graph file).
   */
  static async open(model: TitansModel, sidecar: string, opts: { threads?: number } = {}): Promise<{ step: OnnxReadingStep } | { step: null; reason: string }> {
    let info: ReadingGraphInfo;
    try {
      info = readGraphInfo(sidecar);
    } catch (e) {
      return { step: null, reason: (e as Error).message };
    }
    if (!sameShape(info.config, model.config)) return { step: null, reason: 'the model has another shape than the graph' };
    const file = path.join(path.dirname(sidecar), info.graph);
    const bytes = fs.readFileSync(file);
    if (createHash('sha256').update(bytes).digest('hex') !== info.sha256) return { step: null, reason: `${file} does not match its sha256` };
    let ort: typeof Ort;
    try {
      ort = (await import('onnxruntime-node')) as unknown as typeof Ort;
      ort = ((ort as unknown as { default?: typeof Ort }).default ?? ort) as typeof Ort;
    } catch (e) {
      return { step: null, reason: `onnxruntime-node is not available here (${(e as Error).message})` };
    }
    const threads = Math.max(1, opts.threads ?? 1);
    // the weights become constants of the graph (bind-weights.ts): onnxruntime pre-packs them once
    const inputs = graphInputNames(bytes);
    const weights: WeightTensor[] = [];
    for (const [name, v] of Object.entries(model.params.all)) {
      if (inputs.includes(`p:${name}`)) weights.push({ name: `p:${name}`, dims: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) });
    }
    const missing = inputs.filter((n) => n.startsWith('p:') && !weights.some((w) => w.name === n));
    if (missing.length) return { step: null, reason: `the model lacks ${missing.join(', ')}` };
    const session = await ort.InferenceSession.create(bindWeights(bytes, weights), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    return { step: new OnnxReadingStep(ort, session, model.config, info.segment, threads) };
  }

  /** whether a call of n tokens from `state` can run here: one whole segment from a segment boundary */
  accepts(state: ModelState | null, n: number): boolean {
    if (!state || n !== this.segment || state.pos % this.segment !== 0 || state.batch !== 1) return false;
    return state.layers.every(
      (l) => l.mem !== null && l.memAtSegment === l.mem && l.mem.carry !== null && l.queryContext !== null && !l.k && !l.v && !l.hk && !l.hv && l.mem.gradWeights.every((g, i) => g === l.mem!.weights[i]),
    );
  }

  /** a ModelState (accepted by `accepts`) as arrays; the ModelState stays the caller's */
  fromModelState(state: ModelState): OnnxState {
    const c = stateToCheckpoint(state);
    return { pos: state.pos, tensors: new Map(c.tensors.map((t) => [t.name, { data: t.data as Float32Array, dims: t.shape }])) };
  }

  /** the tfjs ModelState of an OnnxState (new tensors: the caller disposes them) */
  toModelState(s: OnnxState): ModelState {
    const layers: LayerMeta[] = Array.from({ length: this.config.layers }, () => ({
      mem: { pos: s.pos, batch: 1, tensors: memParamNames({ ...this.config.memory, dim: this.config.dim }).length, carry: true, gradIsWeights: true },
      memAtSegment: 'same',
      memAtSegmentMeta: null,
      present: ['queryContext'],
    }));
    const tensors: CheckpointTensor[] = [...s.tensors].map(([name, t]) => ({ name, shape: t.dims, data: t.data }));
    const c: Checkpoint = { kind: 'memory-state', meta: { pos: s.pos, batch: 1, layers: layers as unknown as JsonValue }, tensors };
    return stateFromCheckpoint(c);
  }

  /** read one segment: ids [segment] at s.pos */
  async step(ids: Int32Array, s: OnnxState): Promise<OnnxStepResult> {
    const { ort } = this;
    const T = this.segment;
    if (ids.length !== T || s.pos % T !== 0) throw new Error(`the reading graph reads ${T} tokens from a segment boundary, got ${ids.length} at ${s.pos}`);
    const feeds: Record<string, Ort.Tensor> = { ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, T]) };
    for (const name of this.session.inputNames) {
      if (!name.startsWith('s:')) continue;
      const t = s.tensors.get(name.slice(2));
      if (!t) throw new Error(`the reading state lacks ${name.slice(2)}`);
      feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    }
    const out = await this.session.run(feeds);
    const get = (n: string) => {
      const t = out[n];
      if (!t) throw new Error(`the reading graph gave no ${n}`);
      return t;
    };
    const pos = s.pos + T;
    const tensors = new Map<string, { data: Float32Array; dims: number[] }>();
    for (const name of this.session.outputNames) {
      if (name.startsWith('n:')) tensors.set(name.slice(2), { data: get(name).data as Float32Array, dims: [...get(name).dims] });
    }
    const mc = this.config.memory;
    const names = memParamNames({ ...mc, dim: this.config.dim });
    const b = mc.chunkSize;
    const surprise: SurpriseReport[][] = Array.from({ length: this.config.layers }, (_, l) => {
      const f = (k: string) => get(`r:l${l}.${k}`).data as Float32Array;
      return [
        {
          start: s.pos,
          length: T,
          memories: mc.heads,
          tensorNames: names,
          loss: f('loss'),
          theta: f('theta'),
          gradNorm: names.map((_, j) => f(`grad${j}`)),
          firstChunk: s.pos / b,
          chunks: T / b,
          eta: f('eta'),
          alpha: f('alpha'),
          momentumNorm: f('momentumNorm'),
        },
      ];
    });
    return { logits: get('logits').data as Float32Array, state: { pos, tensors }, surprise };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
