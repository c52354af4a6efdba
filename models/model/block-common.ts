// What the blocks of every architecture share (docs/titans.md sections 2-3): the block context and
// result, persistent memory (Eq. 19), the SwiGLU feed-forward, one store-and-read call of the layer's
// neural memory, and the sliding-window attention of MAG and MAL. One file per architecture uses
// them: mac.ts, mag.ts, mal.ts, lmm.ts. Every block maps x [B, T, d] at absolute positions
// [pos, pos + T) to the next layer's input and returns its new layer state.
import * as tf from '@tensorflow/tfjs';
import type { SurpriseReport } from '../memory/surprise.js';
import type { NeuralMemory } from '../memory/neural-memory.js';
import { linear, rmsNorm } from '../memory/ops.js';
import type { ModelConfig } from './config.js';
import { applyRope, attend, fromHeads, maskFrom, ropeTables, swiglu, toHeads } from './layers.js';
import type { LayerState } from './state.js';

export interface BlockContext {
  c: ModelConfig;
  p: Record<string, tf.Tensor>;
  layer: number;
  mem: NeuralMemory | null;
  /** collect the memory's surprise report of this call */
  surprise: SurpriseReport[] | null;
  /** true: the memory's inference path where it applies (NeuralMemory ForwardOptions.fast) */
  fast?: boolean;
}

/** a block's output: the next layer's input x [B, T, d] and the layer's new state */
export interface BlockResult {
  x: tf.Tensor;
  state: LayerState;
}

export type Block = (ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState) => BlockResult;

/** this layer's parameter `name` (stored as `l{layer}.{name}`) */
export const prefix = (ctx: BlockContext, name: string) => ctx.p[`l${ctx.layer}.${name}`]!;

/** Persistent tokens' keys and values [B*H, Np, D] (Eq. 19; no RoPE: they have no position). */
export function persistentKV(ctx: BlockContext, B: number): { k: tf.Tensor; v: tf.Tensor } | null {
  const { c } = ctx;
  if (c.persistentTokens === 0) return null;
  const P = tf.tile(tf.expandDims(prefix(ctx, 'persist'), 0), [B, 1, 1]); // [B, Np, d]
  return { k: toHeads(linear(P, prefix(ctx, 'wk')), c.heads), v: toHeads(linear(P, prefix(ctx, 'wv')), c.heads) };
}

/** x + SwiGLU(RMSNorm(x)), the feed-forward half of a block                        [B, T, d] */
export function ffn(ctx: BlockContext, x: tf.Tensor): tf.Tensor {
  const xn = rmsNorm(x, prefix(ctx, 'ffnNorm'), ctx.c.normEps);
  return tf.add(x, swiglu(xn, prefix(ctx, 'w1'), prefix(ctx, 'w3'), prefix(ctx, 'w2')));
}

/** One call of the layer's memory on x [B, T, d]: store its chunks (Eq. 13-14), read M*(x) for every
 *  token (Eq. 15) -> m [B, T, d] and the memory's new state. */
export function storeAndRead(ctx: BlockContext, x: tf.Tensor, state: LayerState): { m: tf.Tensor; mem: LayerState['mem'] } {
  const r = ctx.mem!.forward(x, state.mem, { surprise: ctx.surprise !== null, fast: ctx.fast });
  if (r.surprise) ctx.surprise!.push(r.surprise);
  return { m: r.retrieved, mem: r.state };
}

/** the last n rows of t [B, T, ...] */
export const last = (t: tf.Tensor, n: number) => tf.slice(t, [0, t.shape[1]! - n, 0], [t.shape[0]!, n, t.shape[2]!]);
/** a followed by b along the token axis (a may be missing) */
export const cat = (a: tf.Tensor | null, b: tf.Tensor) => (a ? tf.concat([a, b], 1) : b);

/** Sliding-window causal attention with the persistent prefix always visible (MAG Eq. 27, MAL
 *  Eq. 31: SW-Attn over [P || x]); caches the window. xn [B, T, d] -> y [B, T, d]. */
export function slidingAttention(ctx: BlockContext, xn: tf.Tensor, pos: number, state: LayerState): { y: tf.Tensor; k: tf.Tensor | null; v: tf.Tensor | null } {
  const { c } = ctx;
  const [B, T, d] = xn.shape as [number, number, number];
  const H = c.heads;
  const rope = ropeTables(pos, T, d / H, c.ropeBase);
  const q = applyRope(toHeads(linear(xn, prefix(ctx, 'wq')), H), rope);
  const k = cat(state.k, applyRope(toHeads(linear(xn, prefix(ctx, 'wk')), H), rope));
  const v = cat(state.v, toHeads(linear(xn, prefix(ctx, 'wv')), H));
  const cached = k.shape[1]! - T; // keys at positions [pos - cached, pos + T)
  const P = persistentKV(ctx, B);
  const Np = P ? c.persistentTokens : 0;
  const mask = maskFrom(T, Np + cached + T, (i, j) => {
    if (j < Np) return true;
    const kp = pos - cached + (j - Np);
    const qp = pos + i;
    return kp <= qp && kp > qp - c.window;
  });
  const K = P ? tf.concat([P.k, k], 1) : k;
  const V = P ? tf.concat([P.v, v], 1) : v;
  const y = linear(fromHeads(attend(q, K, V, mask), H), prefix(ctx, 'wo'));
  const keep = Math.min(c.window - 1, k.shape[1]!);
  return { y, k: keep > 0 ? last(k, keep) : null, v: keep > 0 ? last(v, keep) : null };
}
