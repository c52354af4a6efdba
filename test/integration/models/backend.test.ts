// Backend selection (models/backend.ts): this machine has no GPU (WebGPU finds SwiftShader at
// most, a software adapter that is never picked by itself) and native tfjs-node(-gpu) are absent,
// so automatic selection must fall through to wasm; forcing by name and by env must work; the
// re-registered MatMul gradient must equal tfjs' own. The model on webgpu: webgpu.test.ts.
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKEND_ORDER, adapterLabel, backendLabel, isMatMulGradientPatched, isSoftwareAdapter, parseBackendName, selectBackend } from '../../../models/backend.js';
import { useBackend } from '../../helpers/models.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
// with it, Dawn finds SwiftShader: automatic selection must refuse it
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;

describe('selectBackend', () => {
  const saved = process.env.TITANS_BACKEND;
  afterAll(async () => {
    if (saved === undefined) delete process.env.TITANS_BACKEND;
    else process.env.TITANS_BACKEND = saved;
    await useBackend('cpu');
  });

  it('tries webgpu, node-gpu, node, wasm, cpu in that order and reports why each was skipped', async () => {
    delete process.env.TITANS_BACKEND;
    expect(BACKEND_ORDER).toEqual(['webgpu', 'node-gpu', 'node', 'wasm', 'cpu']);
    const info = await selectBackend();
    expect(info.tried.map((t) => t.name)).toEqual(BACKEND_ORDER.slice(0, info.tried.length));
    const last = info.tried[info.tried.length - 1]!;
    expect(last).toEqual({ name: info.name });
    expect(tf.getBackend()).toBe(info.tfName);
    for (const t of info.tried.slice(0, -1)) expect(t.error).toBeTruthy();
    if (info.name === 'wasm') {
      // no GPU and the native packages cannot be installed here (docs/stack.md)
      expect(info.tried.length).toBe(4);
      expect(info).toMatchObject({ tfName: 'wasm', threads: 1, gpu: false, adapter: null });
      expect(isMatMulGradientPatched()).toBe(true);
      if (process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD) expect(info.tried[0]!.error).toMatch(/software one \(google swiftshader.*\).*TITANS_BACKEND=webgpu/);
      else expect(info.tried[0]!.error).toMatch(/WebGPU found no adapter|no Vulkan loader|software/);
    }
  });

  it('knows software adapters by their info, and names adapters readably', () => {
    const swiftshader = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true };
    expect(isSoftwareAdapter(swiftshader)).toBe(true);
    expect(adapterLabel(swiftshader)).toBe('google swiftshader-device-subzero (SwiftShader driver 5.0.0; software)');
    expect(isSoftwareAdapter({ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', description: 'lavapipe' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toBe(true);
    expect(isSoftwareAdapter({ isFallbackAdapter: true })).toBe(true);
    const nvidia = { vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200', description: 'NVIDIA: 550.54.15', isFallbackAdapter: false };
    expect(isSoftwareAdapter(nvidia)).toBe(false);
    expect(adapterLabel(nvidia)).toBe('nvidia-h200 (NVIDIA: 550.54.15)');
    expect(adapterLabel({ vendor: 'apple', architecture: 'metal-3' })).toBe('apple metal-3');
    expect(adapterLabel({})).toBe('unknown adapter');
    expect(backendLabel({ name: 'webgpu', adapter: 'nvidia-h200' })).toBe('webgpu (nvidia-h200)');
    expect(backendLabel({ name: 'wasm', adapter: null })).toBe('wasm');
  });

  it('forces a backend by argument and by TITANS_BACKEND', async () => {
    const a = await selectBackend({ force: 'cpu' });
    expect(a).toMatchObject({ name: 'cpu', tfName: 'cpu', threads: 1, gpu: false, adapter: null });
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
    expect(parseBackendName('WebGPU')).toBe('webgpu');
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
