// Timing of the neural memory on the available tfjs backends.
// Usage: npx tsx models/bench/memory-bench.ts [--dim 256] [--heads 4] [--chunk 16] [--tokens 256] [--backends cpu,wasm]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { patchMatMulGradient } from '../backend.js';
import { defaultConfig } from '../memory/config.js';
import { setWasmBatchSplit } from '../memory/ops.js';
import { NeuralMemory, disposeState } from '../memory/neural-memory.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const dim = Number(arg('dim', '256'));
const heads = Number(arg('heads', '4'));
const chunk = Number(arg('chunk', '16'));
const T = Number(arg('tokens', '256'));
const backends = arg('backends', 'cpu,wasm').split(',');
const reps = Number(arg('reps', '3'));

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const warn = console.warn;
  console.warn = () => {};
  const c = defaultConfig({ dim, heads, chunkSize: chunk, mode: 'titans' });
  console.log(`titans memory d=${dim} h=${heads} dh=${c.dimHead} hidden=${c.dimHead * c.expansion} chunk=${chunk} T=${T}`);
  for (const name of backends) {
    const variants = name === 'wasm' ? [[false, false], [true, false], [true, true]] : [[false, false]];
    for (const [patched, split] of variants as [boolean, boolean][]) {
      await tf.setBackend(name);
      await tf.ready();
      if (patched) patchMatMulGradient();
      setWasmBatchSplit(split);
      const mem = new NeuralMemory(c, { seed: 1 });
      const x = tf.randomNormal([1, T, dim], 0, 1, 'float32', 2);
      const fwd: number[] = [];
      const grad: number[] = [];
      for (let r = 0; r < reps + 1; r++) {
        let t0 = performance.now();
        const out = mem.forward(x);
        out.retrieved.dataSync();
        const tf1 = performance.now() - t0;
        out.retrieved.dispose();
        disposeState(out.state);
        t0 = performance.now();
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(mem.forward(x).retrieved)) as tf.Scalar);
        Object.values(grads).forEach((g) => g.dataSync());
        const tg = performance.now() - t0;
        tf.dispose([value, ...Object.values(grads)]);
        if (r > 0) {
          fwd.push(tf1);
          grad.push(tg);
        }
      }
      const f = median(fwd);
      const g = median(grad);
      console.log(
        `${name}${name === 'wasm' ? ` (matMul grad: ${patched ? 'explicit transposes' : 'default'}; batched products: ${split ? 'split into 2-D' : 'batched'})` : ''}: ` +
          `forward ${f.toFixed(0)} ms (${((f / T) * 1000).toFixed(0)} us/token), forward+grad ${g.toFixed(0)} ms`,
      );
      x.dispose();
      mem.dispose();
    }
  }
  console.warn = warn;
}

void main();
