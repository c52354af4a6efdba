// Retrieval without update, M*(q(x)) at fixed weights (paper Eq. 15 with the weights frozen):
// MAC's memory tokens h = M*_{segment start}(q(S)) (docs/titans.md section 3, MAC, first line).
import * as tf from '@tensorflow/tfjs';
import { memForward } from '../memory/mlp.js';
import type { MemoryState, NeuralMemory } from '../memory/neural-memory.js';
import { linear, rmsNorm } from '../memory/ops.js';
import { mergeHeads, multiheadRmsNorm, project } from '../memory/projections.js';

/**
 * x [B, T, d]: the tokens whose queries read the memory; ctx [B, n, d] or null: the inputs just
 * before them (the causal conv of the query projection looks back convKernel - 1 tokens).
 * state null reads the initial weights W0. Returns [B, T, d].
 */
export function retrieveAt(mem: NeuralMemory, x: tf.Tensor, ctx: tf.Tensor | null, state: MemoryState | null): tf.Tensor {
  const c = mem.config;
  const p = mem.params;
  const [B, T] = x.shape as [number, number];
  const n = ctx ? ctx.shape[1]! : 0;
  const full = ctx ? tf.concat([ctx, x], 1) : x; //                          [B, n+T, d]
  const xr = c.preNorm ? rmsNorm(full, p.retrieveNorm!, c.rmsEps) : full;
  const G = B * c.heads;
  const Q = tf.slice(project(c, p, xr, 'q'), [0, n, 0], [G, T, c.dimHead]); // [G, T, dh]
  const W = state ? state.weights : mem.initialWeights(B);
  let Y = memForward(c, W, Q).P; //                                           [G, T, dh]
  if (c.postNorm) Y = multiheadRmsNorm(Y, p.postNorm!, c.heads, c.rmsEps);
  if (c.heads === 1) return mergeHeads(Y, 1);
  const xq = tf.slice(xr, [0, n, 0], [B, T, c.dim]);
  const gate = tf.sigmoid(linear(xq, p.gateW!)); //                           [B, T, h]
  const gateG = tf.reshape(tf.transpose(gate, [0, 2, 1]), [G, T, 1]);
  return linear(mergeHeads(tf.mul(Y, gateG), c.heads), p.outW!); //          [B, T, d]
}
