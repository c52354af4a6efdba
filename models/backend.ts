// TensorFlow.js backend selection: tfjs-node-gpu, then tfjs-node, then wasm, then cpu.
// The native packages are optional dependencies that usually cannot be installed (STACK.md: their
// install script downloads libtensorflow), so they are imported dynamically inside try/catch.
// A backend can be forced by name (argument, or env TITANS_BACKEND).

import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';

export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** our name of the backend that is active */
  name: BackendName;
  /** tfjs' own name of it ('tensorflow', 'wasm', 'cpu') */
  tfName: string;
  /** compute threads it uses */
  threads: number;
  gpu: boolean;
  /** every backend tried, in order, with why it was not taken */
  tried: { name: BackendName; error?: string }[];
}

export const BACKEND_ORDER: BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];

const ALIASES: Record<string, BackendName> = {
  'node-gpu': 'node-gpu',
  'tfjs-node-gpu': 'node-gpu',
  gpu: 'node-gpu',
  node: 'node',
  'tfjs-node': 'node',
  tensorflow: 'node',
  wasm: 'wasm',
  cpu: 'cpu',
};

export function parseBackendName(s: string): BackendName {
  const n = ALIASES[s.trim().toLowerCase()];
  if (!n) throw new Error(`unknown backend "${s}" (one of ${BACKEND_ORDER.join(', ')})`);
  return n;
}

/** import a module that may be absent, without TypeScript resolving it at compile time */
async function optionalImport(spec: string): Promise<unknown> {
  return import(/* @vite-ignore */ spec);
}

async function tryBackend(name: BackendName): Promise<{ tfName: string; threads: number; gpu: boolean }> {
  switch (name) {
    case 'node-gpu': {
      await optionalImport('@tensorflow/tfjs-node-gpu'); // registers 'tensorflow' with CUDA kernels
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node-gpu loaded but its backend failed to start');
      return { tfName: 'tensorflow', threads: availableParallelism(), gpu: true };
    }
    case 'node': {
      await optionalImport('@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but its backend failed to start');
      return { tfName: 'tensorflow', threads: availableParallelism(), gpu: false };
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to start');
      patchMatMulGradient();
      // tfjs disables wasm threads in Node (STACK.md); in a browser with cross-origin isolation
      // the threaded build may be used.
      const g = globalThis as { window?: unknown; crossOriginIsolated?: boolean };
      const threaded = g.window !== undefined && g.crossOriginIsolated === true;
      return { tfName: 'wasm', threads: threaded ? Math.max(1, availableParallelism()) : 1, gpu: false };
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to start');
      return { tfName: 'cpu', threads: 1, gpu: false };
    }
  }
}

/**
 * Select and activate a backend. `force` (or env TITANS_BACKEND) picks one by name and fails if it
 * cannot start; otherwise the first of BACKEND_ORDER (or `order`) that starts is used.
 */
export async function selectBackend(opts: { force?: string; order?: BackendName[] } = {}): Promise<BackendInfo> {
  const forced = opts.force ?? process.env.TITANS_BACKEND;
  const order = forced ? [parseBackendName(forced)] : (opts.order ?? BACKEND_ORDER);
  const tried: BackendInfo['tried'] = [];
  for (const name of order) {
    try {
      const r = await tryBackend(name);
      await tf.ready();
      tried.push({ name });
      return { name, ...r, tried };
    } catch (e) {
      tried.push({ name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`);
}

let matMulPatched = false;

/**
 * Re-register the BatchMatMul gradient with explicit transposes (STACK.md: wasm is fast only for
 * non-transposed matMul; the default gradient uses transposed products). Mathematically identical
 * to tfjs' own gradient; idempotent. Only worth it on wasm (the registry is global).
 */
export function patchMatMulGradient(): void {
  if (matMulPatched) return;
  matMulPatched = true;
  const T = (x: tf.Tensor) => {
    const perm = x.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return tf.transpose(x, perm);
  };
  const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b);
  const prevWarn = console.warn;
  console.warn = () => {}; // tfjs warns that the gradient is overridden
  try {
    tf.registerGradient({
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const g = dy as tf.Tensor;
        const [a, b] = saved as [tf.Tensor, tf.Tensor];
        const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
        // C = op(A) op(B): dA and dB with every transpose materialised
        if (!transposeA && !transposeB) return { a: () => mm(g, T(b)), b: () => mm(T(a), g) };
        if (!transposeA && transposeB) return { a: () => mm(g, b), b: () => mm(T(g), a) };
        if (transposeA && !transposeB) return { a: () => mm(b, T(g)), b: () => mm(a, g) };
        return { a: () => mm(T(b), T(g)), b: () => mm(T(g), T(a)) };
      },
    });
  } finally {
    console.warn = prevWarn;
  }
}

export function isMatMulGradientPatched(): boolean {
  return matMulPatched;
}
