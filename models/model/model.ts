// The Titans language model: embeddings, a stack of MAC / MAG / MAL / LMM blocks, the output head,
// a state carried across calls, per-layer surprise, and the training loss.
import * as tf from '@tensorflow/tfjs';
import { type SurpriseReport, withAsyncSurprise } from '../memory/surprise.js';
import { mm, rmsNorm } from '../memory/ops.js';
import type { Block, BlockContext } from './block-common.js';
import { lmmBlock } from './lmm.js';
import { macBlock } from './mac.js';
import { magBlock } from './mag.js';
import { malBlock } from './mal.js';
import { type ModelConfig, validateModelConfig } from './config.js';
import { embed } from './layers.js';
import { countParams, createParams, disposeParams, type ModelParams } from './params.js';
import { detachState, disposeModelState, emptyLayerState, stateTensors, type LayerState, type ModelState } from './state.js';

export interface ForwardOptions {
  /** also return each layer's memory surprise (per call of its memory) */
  surprise?: boolean;
  /** true: the memory's inference path where it applies (models/memory/fast-update.ts; same
   *  results; off by default, see NeuralMemory ForwardOptions.fast) */
  fast?: boolean;
}

export interface ForwardResult {
  /** next-token logits [B, T, V] */
  logits: tf.Tensor;
  state: ModelState;
  /** per layer, the surprise reports of its memory calls, in order (layers without memory: []) */
  surprise?: SurpriseReport[][];
}

const BLOCKS: Record<ModelConfig['arch'], Block> = { mac: macBlock, mag: magBlock, mal: malBlock, lmm: lmmBlock };

export class TitansModel {
  readonly params: ModelParams;

  constructor(
    readonly config: ModelConfig,
    opts: { seed?: number; params?: ModelParams } = {},
  ) {
    validateModelConfig(config);
    this.params = opts.params ?? createParams(config, opts.seed ?? 0);
  }

  get parameterCount(): number {
    return countParams(this.params);
  }

  dispose(): void {
    disposeParams(this.params);
  }

  /** Pieces of [pos, pos + T) that each lie inside one MAC segment (one piece for other architectures). */
  private pieces(pos: number, T: number): Array<[number, number]> {
    if (this.config.arch !== 'mac') return [[0, T]];
    const out: Array<[number, number]> = [];
    for (let s = 0; s < T; ) {
      const n = Math.min(T - s, this.config.segment - ((pos + s) % this.config.segment));
      out.push([s, n]);
      s += n;
    }
    return out;
  }

  /** Hidden states [B, T, d] for ids [B, T] at positions state.pos.. (no tidy: usable under tf.grads). */
  hidden(ids: tf.Tensor, state: ModelState | null, surprise: SurpriseReport[][] | null, fast = false): { h: tf.Tensor; state: ModelState } {
    const c = this.config;
    const [B, T] = ids.shape as [number, number];
    if (state && state.batch !== B) throw new Error(`state is for batch ${state.batch}, ids have ${B}`);
    const pos = state?.pos ?? 0;
    let layers: LayerState[] = state ? state.layers : Array.from({ length: c.layers }, emptyLayerState);
    const x = embed(this.params.all.embed!, ids);
    const block = BLOCKS[c.arch];
    const outs: tf.Tensor[] = [];
    for (const [s, n] of this.pieces(pos, T)) {
      let xs = n === T ? x : tf.slice(x, [0, s, 0], [B, n, c.dim]);
      const nextLayers: LayerState[] = [];
      for (let l = 0; l < c.layers; l++) {
        const ctx: BlockContext = { c, p: this.params.all, layer: l, mem: this.params.memories[l] ?? null, surprise: surprise ? surprise[l]! : null, fast };
        const r = block(ctx, xs, pos + s, layers[l]!);
        xs = r.x;
        nextLayers.push(r.state);
      }
      layers = nextLayers;
      outs.push(xs);
    }
    const h = outs.length === 1 ? outs[0]! : tf.concat(outs, 1);
    return { h, state: { pos: pos + T, batch: B, layers } };
  }

  /** Logits from hidden states: final RMSNorm, then the (tied) output projection. */
  logits(h: tf.Tensor): tf.Tensor {
    const c = this.config;
    const [B, T] = h.shape as [number, number];
    const hn = tf.reshape(rmsNorm(h, this.params.all.finalNorm!, c.normEps), [B * T, c.dim]);
    const out = c.tieEmbeddings ? mm(hn, this.params.all.embed!, false, true) : mm(hn, this.params.all.head!);
    return tf.reshape(out, [B, T, c.vocabSize]);
  }

  /**
   * Read ids [B, T] (int32) continuing from `state` (null: the start of a text). The given state is
   * not disposed and the returned one shares no tensor with it.
   */
  forward(ids: tf.Tensor, state: ModelState | null = null, opts: ForwardOptions = {}): ForwardResult {
    const surprise = opts.surprise ? Array.from({ length: this.config.layers }, () => [] as SurpriseReport[]) : null;
    const out = tf.tidy(() => {
      const r = this.hidden(ids, state, surprise, opts.fast === true);
      const next = detachState(state, r.state);
      return { logits: this.logits(r.h), tensors: stateTensors(next), next } as unknown as tf.TensorContainer;
    }) as unknown as { logits: tf.Tensor; next: ModelState };
    const result: ForwardResult = { logits: out.logits, state: out.next };
    if (surprise) result.surprise = surprise;
    return result;
  }

  /**
   * forward(), with the surprise reports read asynchronously: the way to read on every backend
   * (the webgpu backend in Node cannot read a tensor synchronously). Same results as forward().
   */
  async forwardAsync(ids: tf.Tensor, state: ModelState | null = null, opts: ForwardOptions = {}): Promise<ForwardResult> {
    return opts.surprise ? withAsyncSurprise(() => this.forward(ids, state, opts)) : this.forward(ids, state, opts);
  }

  /** Mean next-token cross-entropy of batch [B, T + 1] read from the start (for training). */
  loss(batch: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const [B, T1] = batch.shape as [number, number];
      const T = T1 - 1;
      const inputs = tf.slice(batch, [0, 0], [B, T]);
      const targets = tf.reshape(tf.slice(batch, [0, 1], [B, T]), [B * T]);
      const { h } = this.hidden(inputs, null, null);
      return crossEntropy(this.logits(h), targets as tf.Tensor1D, this.config.vocabSize);
    });
  }
}

/** mean over rows of -log softmax(logits)[target] (the weighted mean when each row has a weight),
 * with a one-hot product (gather has no wasm gradient) */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor1D, V: number, weights?: tf.Tensor1D): tf.Scalar {
  const flat = tf.reshape(logits, [-1, V]);
  const logp = tf.logSoftmax(flat);
  const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(targets, V)), 1));
  return (weights ? tf.div(tf.sum(tf.mul(nll, weights)), tf.sum(weights)) : tf.mean(nll)) as tf.Scalar;
}

export { disposeModelState };
export type { ModelState };
