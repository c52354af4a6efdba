// Backend selection (models/backend.ts): native tfjs-node(-gpu) are absent on this machine, so
// automatic selection must fall through to wasm; forcing by name and by env must work; the
// re-registered MatMul gradient must equal tfjs' own.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKEND_ORDER, isMatMulGradientPatched, parseBackendName, selectBackend } from '../../../models/backend.js';
import { useBackend } from './helpers.js';

describe('selectBackend', () => {
  const saved = process.env.TITANS_BACKEND;
  afterAll(async () => {
    if (saved === undefined) delete process.env.TITANS_BACKEND;
    else process.env.TITANS_BACKEND = saved;
    await useBackend('cpu');
  });

  it('tries node-gpu, node, wasm, cpu in that order and reports why each was skipped', async () => {
    delete process.env.TITANS_BACKEND;
    expect(BACKEND_ORDER).toEqual(['node-gpu', 'node', 'wasm', 'cpu']);
    const info = await selectBackend();
    expect(info.tried.map((t) => t.name)).toEqual(BACKEND_ORDER.slice(0, info.tried.length));
    const last = info.tried[info.tried.length - 1]!;
    expect(last).toEqual({ name: info.name });
    expect(tf.getBackend()).toBe(info.tfName);
    for (const t of info.tried.slice(0, -1)) expect(t.error).toBeTruthy();
    if (info.name === 'wasm') {
      // the native packages cannot be installed here (STACK.md)
      expect(info.tried.length).toBe(3);
      expect(info).toMatchObject({ tfName: 'wasm', threads: 1, gpu: false });
      expect(isMatMulGradientPatched()).toBe(true);
    }
  });

  it('forces a backend by argument and by TITANS_BACKEND', async () => {
    const a = await selectBackend({ force: 'cpu' });
    expect(a).toMatchObject({ name: 'cpu', tfName: 'cpu', threads: 1, gpu: false });
    expect(tf.getBackend()).toBe('cpu');
    process.env.TITANS_BACKEND = 'wasm';
    const b = await selectBackend();
    expect(b.name).toBe('wasm');
    expect(b.tried).toEqual([{ name: 'wasm' }]);
    expect(tf.getBackend()).toBe('wasm');
    delete process.env.TITANS_BACKEND;
  });

  it('a forced backend that cannot start is an error, not a silent fallback', async () => {
    let native = true;
    try {
      await import(/* @vite-ignore */ ['@tensorflow', 'tfjs-node'].join('/'));
    } catch {
      native = false;
    }
    if (!native) await expect(selectBackend({ force: 'node' })).rejects.toThrow(/no TensorFlow.js backend could start/);
    expect(() => parseBackendName('cuda')).toThrow(/unknown backend/);
    expect(parseBackendName('tfjs-node-gpu')).toBe('node-gpu');
  });

  it('the re-registered MatMul gradient equals the analytic one for every transpose combination', async () => {
    await selectBackend({ force: 'wasm' }); // registers the patched gradient
    expect(isMatMulGradientPatched()).toBe(true);
    for (const backend of ['cpu', 'wasm']) {
      await useBackend(backend);
      for (const [ta, tb] of [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ] as const) {
        tf.tidy(() => {
          const A = tf.randomNormal(ta ? [2, 4, 3] : [2, 3, 4], 0, 1, 'float32', 1);
          const B = tf.randomNormal(tb ? [2, 5, 4] : [2, 4, 5], 0, 1, 'float32', 2);
          const dY = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 3);
          const [gA, gB] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, ta, tb), dY)))([A, B]);
          // analytic: C = op(A) op(B), dop(A) = dY op(B)^T, dop(B) = op(A)^T dY
          const opA = ta ? tf.transpose(A, [0, 2, 1]) : A;
          const opB = tb ? tf.transpose(B, [0, 2, 1]) : B;
          const dOpA = tf.matMul(dY, tf.transpose(opB, [0, 2, 1]));
          const dOpB = tf.matMul(tf.transpose(opA, [0, 2, 1]), dY);
          const eA = ta ? tf.transpose(dOpA, [0, 2, 1]) : dOpA;
          const eB = tb ? tf.transpose(dOpB, [0, 2, 1]) : dOpB;
          expect(tf.max(tf.abs(tf.sub(gA!, eA))).dataSync()[0]).toBeLessThan(1e-5);
          expect(tf.max(tf.abs(tf.sub(gB!, eB))).dataSync()[0]).toBeLessThan(1e-5);
        });
      }
    }
  });
});
