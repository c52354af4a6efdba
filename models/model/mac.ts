// MAC, memory as context (docs/titans.md section 3; paper Eq. 21-25), made strictly causal. The
// caller guarantees that [pos, pos + T) lies inside one segment S of C = config.segment tokens.
import * as tf from '@tensorflow/tfjs';
import { linear, rmsNorm } from '../memory/ops.js';
import { type BlockContext, type BlockResult, cat, ffn, last, persistentKV, prefix, storeAndRead } from './block-common.js';
import { applyRope, attend, fromHeads, maskFrom, ropeTables, toHeads } from './layers.js';
import { retrieveAt } from './memory-read.js';
import type { LayerState } from './state.js';

/**
 * MAC, memory as context (paper Eq. 21-25), strictly causal:
 *   h = M*_{segment start}(q(S))                                  (Eq. 21)
 *   y = Attn([P || h || S]) with a causal mask over h and S       (Eq. 22-23)
 *   store y in the memory                                         (Eq. 24)
 *   o = y * sigmoid(norm(M*(y))) with chunk-causal weights        (Eq. 25)
 */
export function macBlock(ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState): BlockResult {
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
    // Eq. 21: h = M*_{t-1}(q(S)), the memory as it stood at the segment's start      [B, T, d]
    const h = retrieveAt(ctx.mem, xn, state.queryContext, state.memAtSegment);
    kH = applyRope(toHeads(linear(h, prefix(ctx, 'wk')), H), rope);
    vH = toHeads(linear(h, prefix(ctx, 'wv')), H);
    const keep = ctx.mem.config.convKernel - 1;
    if (keep > 0) {
      const all = cat(state.queryContext, xn);
      queryContext = last(all, Math.min(keep, all.shape[1]!));
    }
  }

  // Eq. 22-23: y = Attn([P || h || S]), persistent tokens P (Eq. 19) always visible
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
    // Eq. 24: store y; Eq. 25: o = y (x) M*(y), read with the chunk-causal rule
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
