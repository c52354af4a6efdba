// Reading tensors back on every backend. The webgpu backend in Node cannot read synchronously
// (dataSync throws: no OffscreenCanvas); after `await t.data()` it keeps the values on the CPU, so
// synchronous code (checkpoint writers, serializers) can then read those tensors. Elsewhere
// synchronous reads work and this costs nothing.
import * as tf from '@tensorflow/tfjs';

/** whether the active backend needs tensors prefetched before a synchronous read */
export function needsAsyncRead(): boolean {
  return tf.getBackend() === 'webgpu';
}

/** make `tensors` readable by dataSync on the active backend (webgpu: read them now) */
export async function prefetch(tensors: Iterable<tf.Tensor | null | undefined>): Promise<void> {
  if (!needsAsyncRead()) return;
  await Promise.all([...tensors].filter((t): t is tf.Tensor => !!t && !t.isDisposed).map((t) => t.data()));
}

/** the values of a tensor as a Float32Array of its own (a copy), on any backend */
export async function readFloat32(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from((await t.data()) as Float32Array);
}
