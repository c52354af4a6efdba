// Data-dependent gates of the memory update (docs/titans.md section 1 "Gates", paper Eq. 13-14):
//   theta_t = sigmoid(Linear(x_t)) * max_lr          per token and head (momentary-surprise step)
//   eta_n   = sigmoid(Linear(mean of x over chunk n)) per chunk and head (momentum decay)
//   alpha_n = sigmoid(Linear(mean of x over chunk n)) per chunk and head (forgetting)
// x is the store-normed input.

import * as tf from '@tensorflow/tfjs';
import type { NeuralMemoryConfig } from './config.js';
import { linear } from './ops.js';

/** [B, T, h] -> [B*h, T] */
function headsFirst(x: tf.Tensor): tf.Tensor {
  const [B, T, h] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(x, [0, 2, 1]), [B * h, T]);
}

/** theta_t: x [B, T, d] -> [B*h, T] */
export function thetaGate(c: NeuralMemoryConfig, p: Record<string, tf.Tensor>, x: tf.Tensor): tf.Tensor {
  return headsFirst(tf.mul(tf.sigmoid(linear(x, p.thetaW!, p.thetaB!)), c.maxLr));
}

/** eta_n and alpha_n for the n = T / b complete chunks of x [B, n*b, d] -> each [B*h, n] */
export function chunkGates(
  c: NeuralMemoryConfig,
  p: Record<string, tf.Tensor>,
  x: tf.Tensor,
): { eta: tf.Tensor; alpha: tf.Tensor } {
  const [B, T, d] = x.shape as [number, number, number];
  const n = T / c.chunkSize;
  const mean = tf.mean(tf.reshape(x, [B, n, c.chunkSize, d]), 2); // chunk means [B,n,d]
  return {
    eta: headsFirst(tf.sigmoid(linear(mean, p.etaW!, p.etaB!))),
    alpha: headsFirst(tf.sigmoid(linear(mean, p.alphaW!, p.alphaB!))),
  };
}
