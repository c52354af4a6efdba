// LMM alone (docs/titans.md section 3): the neural memory is the token mixer, no attention.
import * as tf from '@tensorflow/tfjs';
import { rmsNorm } from '../memory/ops.js';
import { type BlockContext, type BlockResult, ffn, prefix, storeAndRead } from './block-common.js';
import type { LayerState } from './state.js';

/** LMM alone: o = M(x), y_t = M*(q_t) read as the chunks are stored (Eq. 13-15). */
export function lmmBlock(ctx: BlockContext, x: tf.Tensor, _pos: number, state: LayerState): BlockResult {
  const xn = rmsNorm(x, prefix(ctx, 'mixNorm'), ctx.c.normEps);
  if (!ctx.mem) return { x: ffn(ctx, x), state };
  const { m, mem } = storeAndRead(ctx, xn, state);
  return { x: ffn(ctx, tf.add(x, m)), state: { ...state, mem } };
}
