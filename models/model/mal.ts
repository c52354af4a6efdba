// MAL, memory as layer (docs/titans.md section 3; paper Eq. 29-31).
import * as tf from '@tensorflow/tfjs';
import { rmsNorm } from '../memory/ops.js';
import { type BlockContext, type BlockResult, ffn, prefix, slidingAttention, storeAndRead } from './block-common.js';
import type { LayerState } from './state.js';

/**
 * MAL, memory as layer (Eq. 29-31):
 *   y = M(x)                                                      (Eq. 29-30)
 *   o = SW-Attn([P || y])                                         (Eq. 31)
 */
export function malBlock(ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState): BlockResult {
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
