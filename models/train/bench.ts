// Overhead of the training loop (clipping + AdamW + bookkeeping) over a bare forward/backward.
// Run: npx tsx models/train/bench.ts [cpu|wasm] [params] [size]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, clipByGlobalNormTensor } from './optimizer.js';
import { train } from './trainer.js';

const backend = process.argv[2] ?? 'cpu';
const P = Number(process.argv[3] ?? 40);
const N = Number(process.argv[4] ?? 64);
const STEPS = 60;

const warn = console.warn;
console.warn = () => {};
await tf.setBackend(backend);
await tf.ready();
console.warn = warn;

const params: Record<string, tf.Variable> = {};
for (let i = 0; i < P; i++) params[`p${i}`] = tf.tidy(() => tf.variable(tf.randomNormal(i % 2 ? [N, N] : [N], 0, 0.1, 'float32', i)));
const vars = Object.values(params);
const loss = () => tf.addN(vars.map((v) => tf.sum(tf.square(v)))) as tf.Scalar;

async function time(label: string, fn: () => Promise<void> | void): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) await fn();
  const ms = (performance.now() - t0) / STEPS;
  console.log(`${label.padEnd(44)} ${(ms * 1000).toFixed(0).padStart(7)} us/step`);
  return ms;
}

const bare = await time('forward + backward (variableGrads)', async () => {
  const l = tf.tidy(() => {
    const { value } = tf.variableGrads(loss, vars);
    return value;
  });
  await l.data();
  l.dispose();
});
const opt = new AdamW(params, { weightDecay: 0.1 });
const step = await time('+ clip + AdamW (manual)', async () => {
  const [l, n] = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(loss, vars);
    const named: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(params)) named[k] = grads[v.name]!;
    const c = clipByGlobalNormTensor(named, 1);
    opt.apply(c.grads, 1e-3);
    return [value, c.norm];
  });
  await Promise.all([l.data(), n.data()]);
  tf.dispose([l, n]);
});
opt.dispose();
const r = await train({ params, loss, nextBatch: () => null, steps: STEPS + 5, schedule: { peakLr: 1e-3 } });
console.log(`${'train() (the loop)'.padEnd(44)} ${(r.msPerStep * 1000).toFixed(0).padStart(7)} us/step`);
console.log(
  `${backend}, ${P} parameters (${Math.ceil(P / 2)} of [${N}], ${Math.floor(P / 2)} of [${N},${N}]): optimizer+clip ${((step - bare) * 1000).toFixed(0)} us/step, ` +
    `loop bookkeeping ${((r.msPerStep - step) * 1000).toFixed(0)} us/step`,
);
