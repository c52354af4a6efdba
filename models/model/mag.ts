// MAG, memory as gate (docs/titans.md section 3; paper Eq. 26-28).
import * as tf from '@tensorflow/tfjs';
import { rmsNorm } from '../memory/ops.js';
import { type BlockContext, type BlockResult, ffn, prefix, slidingAttention, storeAndRead } from './block-common.js';
import type { LayerState } from './state.js';

/**
 * MAG, memory as gate (Eq. 26-28):
 *   y = SW-Attn*([P || x])                                        (Eq. 26-27)
 *   o = RMSNorm_a(y) * sigmoid(RMSNorm_b(M(x)))                   (Eq. 28, y (x) M(x))
 */
export function magBlock(ctx: BlockContext, x: tf.Tensor, pos: number, state: LayerState): BlockResult {
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
