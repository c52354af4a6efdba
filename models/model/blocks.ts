// One layer of each architecture (docs/titans.md section 3). Every block maps x [B, T, d] at absolute
// positions [pos, pos + T) to the next layer's input and returns its new layer state. The caller
// guarantees for MAC that [pos, pos + T) lies inside one segment.
import * as tf from '@tensorflow/tfjs';
import type { SurpriseReport } from '../memory/surprise.js';
import type { NeuralMemory } from '../memory/neural-memory.js';
import { linear, rmsNorm } from '../memory/ops.js';
import type { ModelConfig } from './config.js';
import { applyRope, attend, fromHeads, maskFrom, ropeTables, swiglu, toHeads } from './layers.js';
import { retrieveAt } from './memory-read.js';
import type { LayerState } from './state.js';

export interface BlockContext {
  c: ModelConfig;
  p: Record<string, tf.Tensor>;
  layer: number;
  mem: NeuralMemory | null;
  /** collect the memory's surprise report of this call */
  surprise: SurpriseReport[] | null;
}

const prefix = (ctx: BlockContext, name: string) => ctx.p[`l${ctx.layer}.${name}`]!;

/** Persistent tokens' keys and values [B*H, Np, D] (no RoPE: they have no position). */
function persistentKV(ctx: BlockContext, B: number): { k: tf.Tensor; v: tf.Tensor } | null {
  const { c } = ctx;
  if (c.persistentTokens === 0) return null;
  const P = tf.tile(tf.expandDims(prefix(ctx, 'persist'), 0), [B, 1, 1]); // [B, Np, d]
  return { k: toHeads(linear(P, prefix(ctx, 'wk')), c.heads), v: toHeads(linear(P, prefix(ctx, 'wv')), c.heads) };
}

function ffn(ctx: BlockContext, x: tf.Tensor): tf.Tensor {
  const xn = rmsNorm(x, prefix(ctx, 'ffnNorm'), ctx.c.normEps);
  return tf.add(x, swiglu(xn, prefix(ctx, 'w1'), prefix(ctx, 'w3'), prefix(ctx, 'w2')));
}

function storeAndRead(ctx: BlockContext, x: tf.Tensor, state: LayerState): { m: tf.Tensor; mem: LayerState['mem'] } {
  const r = ctx.mem!.forward(x, state.mem, { surprise: ctx.surprise !== null });
  if (r.surprise) ctx.surprise!.push(r.surprise);
  return { m: r.retrieved, mem: r.state };
}

const last = (t: tf.Tensor, n: number) => tf.slice(t, [0, t.shape[1]! - n, 0], [t.shape[0]!, n, t.shape[2]!]);
const cat = (a: tf.Tensor | null, b: tf.Tensor) => (a ? tf.concat([a, b], 1) : b);

/**
 * MAC, memory as context (paper Eq. 21-25), strictly causal:
 *   h = M*_{segment start}(q(S));  y = Attn([P || h || S]) with a causal mask over h and S;
 *   store y in the memory;  o = y * sigmoid(norm(M*(y))) with chunk-causal weights.
 */
export function macBlock(ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState): { x: tf.Tensor; state: LayerState } {
  const { c } = ctx;
  const [B, T, d] = x.shape as [number, number, number];
  const H = c.heads;
  const offset = pos % c.segment; // index of x[:, 0] inside its segment
  const segmentEnds = offset + T === c.segment;
  const xn = rmsNorm(x, prefix(ctx, 'mixNorm'), c.normEps);
  const rope = ropeTables(offset, T, d / H, c.ropeBase);
  const q = applyRope(toHeads(linear(xn, prefix(ctx, 'wq')), H), rope);
  const kS = applyRope(toHeads(linear(xn, prefix(ctx, 'wk')), H), rope);
  const vS = toHeads(linear(xn, prefix(ctx, 'wv')), H);

  let kH: tf.Tensor | null = null;
  let vH: tf.Tensor | null = null;
  let queryContext: tf.Tensor | null = null;
  if (ctx.mem) {
    const h = retrieveAt(ctx.mem, xn, state.queryContext, state.memAtSegment); // [B, T, d]
    kH = applyRope(toHeads(linear(h, prefix(ctx, 'wk')), H), rope);
    vH = toHeads(linear(h, prefix(ctx, 'wv')), H);
    const keep = ctx.mem.config.convKernel - 1;
    if (keep > 0) {
      const all = cat(state.queryContext, xn);
      queryContext = last(all, Math.min(keep, all.shape[1]!));
    }
  }

  const P = persistentKV(ctx, B);
  const Np = P ? c.persistentTokens : 0;
  const prev = offset; // tokens of this segment before x
  const allS = { k: cat(state.k, kS), v: cat(state.v, vS) };
  const allH = kH && vH ? { k: cat(state.hk, kH), v: cat(state.hv, vH) } : null;
  const keys = [P?.k, allH?.k, allS.k].filter((t): t is tf.Tensor => !!t);
  const values = [P?.v, allH?.v, allS.v].filter((t): t is tf.Tensor => !!t);
  const nH = allH ? prev + T : 0;
  // query i (segment index prev + i) sees P, h_0..h_{prev+i}, S_0..S_{prev+i}
  const mask = maskFrom(T, Np + nH + prev + T, (i, j) => {
    if (j < Np) return true;
    const jj = j - Np < nH ? j - Np : j - Np - nH;
    return jj <= prev + i;
  });
  const y = linear(fromHeads(attend(q, tf.concat(keys, 1), tf.concat(values, 1), mask), H), prefix(ctx, 'wo')); // [B, T, d]

  let out = y;
  const next: LayerState = { ...state, queryContext };
  if (ctx.mem) {
    const { m, mem } = storeAndRead(ctx, y, state);
    out = tf.mul(y, tf.sigmoid(rmsNorm(m, prefix(ctx, 'gateNorm'), c.normEps))); // o = y (x) M*(y)
    next.mem = mem;
    // the next segment's memory tokens read the memory as it stands at its start
    next.memAtSegment = segmentEnds ? mem : state.memAtSegment;
  }
  next.k = segmentEnds ? null : allS.k;
  next.v = segmentEnds ? null : allS.v;
  next.hk = segmentEnds || !allH ? null : allH.k;
  next.hv = segmentEnds || !allH ? null : allH.v;
  return { x: ffn(ctx, tf.add(x, out)), state: next };
}

/** Sliding-window causal attention with the persistent prefix always visible; caches the window. */
function slidingAttention(ctx: BlockContext, xn: tf.Tensor, pos: number, state: LayerState): { y: tf.Tensor; k: tf.Tensor | null; v: tf.Tensor | null } {
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

/** MAG, memory as gate (Eq. 26-28): o = RMSNorm_a(SWA(x)) * sigmoid(RMSNorm_b(LMM(x))). */
export function magBlock(ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState): { x: tf.Tensor; state: LayerState } {
  const { c } = ctx;
  const xn = rmsNorm(x, prefix(ctx, 'mixNorm'), c.normEps);
  const att = slidingAttention(ctx, xn, pos, state);
  const next: LayerState = { ...state, k: att.k, v: att.v };
  let out = att.y;
  if (ctx.mem) {
    const { m, mem } = storeAndRead(ctx, xn, state);
    out = tf.mul(rmsNorm(att.y, prefix(ctx, 'normA'), c.normEps), tf.sigmoid(rmsNorm(m, prefix(ctx, 'normB'), c.normEps)));
    next.mem = mem;
  }
  return { x: ffn(ctx, tf.add(x, out)), state: next };
}

/** MAL, memory as layer (Eq. 29-31): o = SWA(LMM(x)). */
export function malBlock(ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState): { x: tf.Tensor; state: LayerState } {
  const { c } = ctx;
  let xn = rmsNorm(x, prefix(ctx, 'mixNorm'), c.normEps);
  const next: LayerState = { ...state };
  if (ctx.mem) {
    const { m, mem } = storeAndRead(ctx, xn, state);
    xn = m;
    next.mem = mem;
  }
  const att = slidingAttention(ctx, xn, pos, state);
  next.k = att.k;
  next.v = att.v;
  return { x: ffn(ctx, tf.add(x, att.y)), state: next };
}

/** LMM alone: the memory is the token mixer (no attention). */
export function lmmBlock(ctx: BlockContext, x: tf.Tensor, _pos: number, state: LayerState): { x: tf.Tensor; state: LayerState } {
  const xn = rmsNorm(x, prefix(ctx, 'mixNorm'), ctx.c.normEps);
  if (!ctx.mem) return { x: ffn(ctx, x), state };
  const { m, mem } = storeAndRead(ctx, xn, state);
  return { x: ffn(ctx, tf.add(x, m)), state: { ...state, mem } };
}
