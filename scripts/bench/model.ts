// `npm run bench:model`: speed and memory of the Titans model on each available backend.
// Per backend and model size: reading (forward + memory update) tokens/s, a training step's
// tokens/s, generation tokens/s, peak tensor memory, and the achieved matmul FLOP/s as a fraction
// of the same backend's own plain matmul throughput measured in the same run (the baseline).
// Reading (issue 17 item 3) is also measured as the app reads (core/reading/read-document.ts: calls
// of ~256 tokens with the surprise trace) in three paths interleaved in the same run: "old" (the
// general path with wasm's batched matmul, as this bench measured before), "app" (the general path
// with per-head 2-D products, the app's setting) and "fast" (models/memory/fast-update.ts); each is
// given as tokens/s, bytes/s, useful FLOP/s (the general path's matmul FLOPs per token, from
// tf.profile) against the backend's large-matmul throughput and the machine's peak, and as a ratio
// to "old". A fourth path, "onnx", reads as the app does with onnxruntime (docs/onnx-reading.md):
// tfjs the first segment, onnxruntime every segment after it, on a graph exported for the size by
// `python -m train.torch.export_onnx` (needs /usr/bin/python3 with torch; else the row is left out
// and the bench says why). Sizes: small (today's default shape), base, next (the coming default: BPE 8K, d256 x 2,
// segment 128, chunk 32, linear memory, 4 memory heads of 64; random weights).
// Usage: npm run bench:model [-- --backends webgpu,wasm,cpu --sizes small,base,next --tokens 1024 --train-batch 2 --reading-only]
// webgpu runs by default only on a hardware adapter; --backends webgpu also benches a software one.
// Timings end with a read of the last result, so a GPU's queued work is counted.
import * as tf from '@tensorflow/tfjs';
import { backendLabel, selectBackend, type BackendName } from '../../models/backend.js';
import { setWasmBatchSplit } from '../../models/memory/ops.js';
import { readStep } from '../../models/model/alignment.js';
import { modelConfig } from '../../models/model/config.js';
import { generate } from '../../models/model/generate.js';
import { disposeModelState, TitansModel, type ModelState } from '../../models/model/model.js';
import { encodeCheckpoint } from '../../models/checkpoint/format.js';
import { modelToCheckpoint } from '../../models/model/io.js';
import { OnnxReadingStep } from '../../models/onnx/reading-step.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const BACKENDS = arg('backends', 'webgpu,node-gpu,node,wasm,cpu').split(',') as BackendName[];
const EXPLICIT = args.includes('--backends');
const SIZES = arg('sizes', 'small,base').split(',');
const READING_ONLY = args.includes('--reading-only');
const ROUNDS = Number(arg('rounds', '3'));
/** The machine's peak, stated: 2 cores x 3.0 GHz x 32 FLOP/cycle (AVX2, 2 FMA units x 8 float32 lanes x 2). */
const PEAK_GFLOPS = Number(arg('peak-gflops', String(2 * 3.0 * 32)));
/** bytes of English text per token: byte-level 1; BPE 8K measured at ~4 on English prose (stated, not measured here) */
const BYTES_PER_TOKEN: Record<string, number> = { small: 1, base: 1, next: 4 };
const TOKENS = Number(arg('tokens', '1024'));
const TRAIN_BATCH = Number(arg('train-batch', '2'));

const SIZE_CONFIGS: Record<string, NonNullable<Parameters<typeof modelConfig>[0]>> = {
  small: { dim: 128, layers: 2, heads: 4, segment: 64, memory: { chunkSize: 16, heads: 2 } },
  base: { dim: 256, layers: 4, heads: 8, segment: 128, memory: { chunkSize: 16, heads: 4 } },
  next: { vocabSize: 8192, dim: 256, layers: 2, heads: 8, segment: 128, memory: { chunkSize: 32, heads: 4, depth: 1 } },
};

interface ReadRow {
  backend: string;
  size: string;
  matmulGflops: number;
  /** seconds per token, per path */
  tps: Record<ReadPath, number>;
  flopsPerToken: number;
  bytesPerToken: number;
}
type ReadPath = 'old' | 'app' | 'fast' | 'onnx';
const READ_PATHS: ReadPath[] = ['old', 'app', 'fast', 'onnx'];
const ONNX_THREADS = Number(arg('onnx-threads', String(os.availableParallelism())));

/** onnxruntime's reading step for `model`: its graph exported by the PyTorch twin into a temp dir */
async function onnxStepFor(model: TitansModel): Promise<OnnxReadingStep | string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-bench-onnx-'));
  try {
    const trd = path.join(dir, 'model.trd');
    fs.writeFileSync(trd, encodeCheckpoint(modelToCheckpoint(model, { kind: 'byte' })));
    const graph = path.join(dir, 'reading-step.onnx');
    const r = spawnSync(process.env.TITANS_PYTHON ?? '/usr/bin/python3', ['-m', 'train.torch.export_onnx', '--model', trd, '--out', graph], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (r.status !== 0) return `the graph could not be exported (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)})`;
    const opened = await OnnxReadingStep.open(model, path.join(dir, 'reading-step.json'), { threads: ONNX_THREADS });
    return opened.step ?? opened.reason;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Row {
  backend: string;
  size: string;
  params: number;
  matmulGflops: number;
  readTps: number;
  readGflops: number;
  trainTps: number;
  genTps: number;
  peakMB: number;
}

/** The backend's plain 2-D matmul throughput at the model's shapes (the baseline). */
async function matmulThroughput(d: number): Promise<number> {
  const a = tf.randomNormal([256, d]);
  const b = tf.randomNormal([d, 4 * d]);
  tf.matMul(a, b).dispose();
  const reps = 20;
  let s = Infinity; // best of 3 (the machine may be busy)
  for (let trial = 0; trial < 3; trial++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    }
    s = Math.min(s, (performance.now() - t0) / 1000);
  }
  tf.dispose([a, b]);
  return (reps * 2 * 256 * d * 4 * d) / s / 1e9;
}

/** Matmul FLOPs the kernels of `f` execute, from tf.profile's kernel shapes. */
async function matmulFlops(f: () => tf.TensorContainer): Promise<{ flops: number; peakBytes: number }> {
  const prof = await tf.profile(f);
  let flops = 0;
  for (const k of prof.kernels) {
    if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul' && k.name !== 'MatMul') continue;
    const outSize = (k.outputShapes[0] ?? []).reduce((x, y) => x * y, 1);
    flops += 2 * outSize * sharedDim(k.inputShapes as number[][]);
  }
  return { flops, peakBytes: prof.peakBytes };
}

/** The contracted dimension of a BatchMatMul from its two input shapes (transposes unknown). */
function sharedDim(shapes: number[][]): number {
  const [a, b] = shapes as [number[], number[]];
  const a1 = a[a.length - 2]!;
  const a2 = a[a.length - 1]!;
  const b1 = b[b.length - 2]!;
  const b2 = b[b.length - 1]!;
  if (a2 === b1) return a2;
  if (a2 === b2) return a2;
  if (a1 === b1) return a1;
  return a1;
}

function ids(B: number, T: number, V: number): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.floor(tf.mul(tf.randomUniform([B, T], 0, 1, 'float32', 1), V)), 'int32'));
}

async function benchOne(backend: string, size: string): Promise<Row> {
  const config = modelConfig({ vocabSize: 260, ...SIZE_CONFIGS[size] });
  const model = new TitansModel(config, { seed: 1 });
  const matmulGflops = await matmulThroughput(config.dim);

  // reading: the text in pieces of one segment, state carried (as when reading a document)
  const text = ids(1, TOKENS, config.vocabSize);
  /** returns the last piece's logits (the caller disposes them) */
  const read = (): tf.Tensor => {
    let state: ModelState | null = null;
    let last: tf.Tensor | null = null;
    for (let s = 0; s < TOKENS; s += config.segment) {
      const piece = tf.slice(text, [0, s], [1, Math.min(config.segment, TOKENS - s)]);
      const r = model.forward(piece, state);
      piece.dispose();
      last?.dispose();
      last = r.logits;
      disposeModelState(state);
      state = r.state;
    }
    disposeModelState(state);
    return last!;
  };
  const readAll = async () => {
    const last = read();
    await last.data(); // everything queued before it is done
    last.dispose();
  };
  await readAll(); // warm up
  const t0 = performance.now();
  await readAll();
  const readSeconds = (performance.now() - t0) / 1000;
  const { flops, peakBytes } = await matmulFlops(() => {
    read().dispose();
    return tf.scalar(0);
  });

  // a training step: batch TRAIN_BATCH x two segments, forward + backward
  const T = config.segment * 2;
  const batch = ids(TRAIN_BATCH, T + 1, config.vocabSize);
  const vars = Object.values(model.params.all);
  const step = async (wait = true) => {
    const { value, grads } = tf.variableGrads(() => model.loss(batch), vars);
    if (wait) await Promise.all([value, ...Object.values(grads)].map((t) => t.data()));
    tf.dispose([value, ...Object.values(grads)]);
  };
  await step();
  const t1 = performance.now();
  await step();
  const trainSeconds = (performance.now() - t1) / 1000;
  const train = await tf.profile(() => {
    void step(false);
    return tf.scalar(0);
  });

  // generation: 32 tokens after a 64-token prompt
  const prompt = Array.from({ length: 64 }, (_, i) => (i * 7) % 256);
  const gen = async () => {
    const g = generate(model, prompt, { maxTokens: 32 });
    let r = await g.next();
    while (!r.done) r = await g.next();
    disposeModelState(r.value);
  };
  await gen();
  const t2 = performance.now();
  await gen();
  const genSeconds = (performance.now() - t2) / 1000;

  const row: Row = {
    backend,
    size,
    params: model.parameterCount,
    matmulGflops,
    readTps: TOKENS / readSeconds,
    readGflops: flops / readSeconds / 1e9,
    trainTps: (TRAIN_BATCH * T) / trainSeconds,
    genTps: 32 / genSeconds,
    peakMB: Math.max(peakBytes, train.peakBytes) / 1024 / 1024,
  };
  tf.dispose([text, batch]);
  model.dispose();
  return row;
}

/** Reading as the app reads (read-document.ts): calls of readStep ~256 tokens, surprise on, logits
 *  and surprise read back per call; the three paths interleaved, best of ROUNDS each. */
async function benchReading(backend: string, size: string, onWasm: boolean): Promise<ReadRow> {
  const config = modelConfig({ vocabSize: 260, ...SIZE_CONFIGS[size] });
  const model = new TitansModel(config, { seed: 1 });
  const matmulGflops = await matmulThroughput(config.dim);
  const step = readStep(config, 256);
  const text = ids(1, TOKENS, config.vocabSize);
  const onnx = onWasm ? await onnxStepFor(model) : 'not on a GPU backend';
  if (typeof onnx === 'string') console.log(`(no onnx row for ${size}: ${onnx})`);
  /** as read-document.ts with ReadOptions.onnx: tfjs the first segment, onnxruntime the rest */
  const readOnnx = async (o: OnnxReadingStep) => {
    const S = o.segment;
    const all = (await text.data()) as Int32Array;
    const first = tf.slice(text, [0, 0], [1, S]);
    const r0 = await model.forwardAsync(first, null, { surprise: true });
    first.dispose();
    await r0.logits.data();
    r0.logits.dispose();
    let st = o.fromModelState(r0.state);
    disposeModelState(r0.state);
    for (let s = S; s + S <= TOKENS; s += S) st = (await o.step(all.subarray(s, s + S), st)).state;
    disposeModelState(o.toModelState(st));
  };
  const read = async (fast: boolean) => {
    let state: ModelState | null = null;
    for (let s = 0; s < TOKENS; s += step) {
      const piece = tf.slice(text, [0, s], [1, Math.min(step, TOKENS - s)]);
      const r = await model.forwardAsync(piece, state, { surprise: true, fast }); // as read-document.ts
      piece.dispose();
      await r.logits.data();
      r.logits.dispose();
      disposeModelState(state);
      state = r.state;
    }
    disposeModelState(state);
  };
  const paths = READ_PATHS.filter((p) => p !== 'onnx' || typeof onnx !== 'string');
  const run = async (path: ReadPath) => {
    if (onWasm) setWasmBatchSplit(path !== 'old');
    const t0 = performance.now();
    if (path === 'onnx') await readOnnx(onnx as OnnxReadingStep);
    else await read(path === 'fast');
    return (performance.now() - t0) / 1000;
  };
  for (const path of paths) await run(path); // warm up
  const best = Object.fromEntries(READ_PATHS.map((p) => [p, Infinity])) as Record<ReadPath, number>;
  for (let r = 0; r < ROUNDS; r++) for (const path of paths) best[path] = Math.min(best[path], await run(path));
  if (typeof onnx !== 'string') await onnx.release();
  // useful FLOPs: the matmuls of the general path with per-head products (no block-diagonal zeros),
  // counted from the kernels of one synchronous read without surprise (tf.profile takes no promise)
  if (onWasm) setWasmBatchSplit(true);
  const { flops } = await matmulFlops(() => {
    let state: ModelState | null = null;
    for (let s = 0; s < TOKENS; s += step) {
      const piece = tf.slice(text, [0, s], [1, Math.min(step, TOKENS - s)]);
      const r = model.forward(piece, state, { fast: false });
      tf.dispose([piece, r.logits]);
      disposeModelState(state);
      state = r.state;
    }
    disposeModelState(state);
    return tf.scalar(0);
  });
  setWasmBatchSplit(false);
  text.dispose();
  model.dispose();
  const tps = Object.fromEntries(paths.map((p) => [p, TOKENS / best[p]])) as Record<ReadPath, number>;
  return { backend, size, matmulGflops, tps, flopsPerToken: flops / TOKENS, bytesPerToken: BYTES_PER_TOKEN[size] ?? 1 };
}

function printTable(header: string[], cells: string[][], left = 2): void {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i < left ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log('\n' + line(header));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const readRows: ReadRow[] = [];
  const rows: Row[] = [];
  for (const name of BACKENDS) {
    let info;
    try {
      info = await selectBackend({ force: name });
    } catch (e) {
      console.log(`${name}: not available (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    if (name === 'webgpu' && !info.gpu && !EXPLICIT) {
      console.log(`webgpu: only a software adapter (${info.adapter}); --backends webgpu benches it anyway`);
      continue;
    }
    setWasmBatchSplit(false); // the model's products are small: fewer, batched kernels win
    const label = `${backendLabel(info)}, ${info.threads} thread${info.threads === 1 ? '' : 's'}${info.gpu ? ', GPU' : ''}`;
    for (const size of name === 'cpu' ? SIZES.slice(0, 1) : SIZES) {
      process.stdout.write(`${name} ${size}: reading... `);
      readRows.push(await benchReading(label, size, info.tfName === 'wasm'));
      if (READING_ONLY || size === 'next') {
        console.log('done');
        continue;
      }
      process.stdout.write('model... ');
      const row = await benchOne(label, size);
      console.log('done');
      rows.push(row);
    }
  }
  const rcells: string[][] = [];
  for (const r of readRows) {
    for (const p of READ_PATHS.filter((q) => r.tps[q] !== undefined)) {
      const gflops = (r.tps[p] * r.flopsPerToken) / 1e9;
      rcells.push([r.backend, r.size, p, r.tps[p].toFixed(0), (r.tps[p] * r.bytesPerToken).toFixed(0), gflops.toFixed(2), ((100 * gflops) / r.matmulGflops).toFixed(1) + '%', ((100 * gflops) / PEAK_GFLOPS).toFixed(2) + '%', (r.tps[p] / r.tps.old).toFixed(2) + 'x']);
    }
  }
  printTable(['backend', 'size', 'path', 'read tok/s', 'bytes/s', 'GFLOP/s', 'vs matmul', 'vs peak', 'vs old'], rcells, 3);
  console.log(
    `(reading as the app reads: ${TOKENS} tokens in calls of ~256 with the surprise trace, best of ${ROUNDS} interleaved rounds; old = general path, wasm batched matmul (this bench's setting before); app = general path, per-head 2-D products (the app's wasm setting); fast = models/memory/fast-update.ts; onnx = onnxruntime's reading step (${ONNX_THREADS} threads; the surprise signals computed, logits for every token). GFLOP/s: useful matmul FLOPs of the general path per token x tok/s; vs matmul: over the tfjs backend's [256,d]x[d,4d] matmul (for onnx too: onnxruntime's own is not measured); vs peak: over ${PEAK_GFLOPS} GFLOP/s = 2 cores x 3.0 GHz x 32 FLOP/cycle. bytes/s = tok/s x bytes per English token: ${Object.entries(BYTES_PER_TOKEN).map(([k, v]) => `${k} ${v}`).join(', ')}.)`,
  );
  if (rows.length === 0) return;
  const header = ['backend', 'size', 'params', 'matmul GFLOP/s', 'read tok/s', 'read GFLOP/s', 'vs matmul', 'train tok/s', 'gen tok/s', 'peak MB'];
  const cells = rows.map((r) => [
    r.backend,
    r.size,
    (r.params / 1e6).toFixed(2) + 'M',
    r.matmulGflops.toFixed(1),
    r.readTps.toFixed(0),
    r.readGflops.toFixed(2),
    ((100 * r.readGflops) / r.matmulGflops).toFixed(1) + '%',
    r.trainTps.toFixed(0),
    r.genTps.toFixed(1),
    r.peakMB.toFixed(0),
  ]);
  printTable(header, cells);
  console.log(`(read: ${TOKENS} tokens in segment-sized calls with the state carried; train: batch ${TRAIN_BATCH} x 2 segments; gen: 32 tokens after a 64-token prompt; "vs matmul": achieved matmul FLOP/s over the backend's plain [256,d]x[d,4d] matmul)`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
