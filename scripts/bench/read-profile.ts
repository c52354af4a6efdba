// Profile of reading (issue 17 item 3): kernels per MAC segment by kernel name, kernel time by name
// and by matmul shape, and tokens/s, for reading as the app does (calls of ~256 tokens, surprise on).
// Usage: npx tsx scripts/bench/read-profile.ts [small|next] [split|batched] [fast|slow]
//   small: today's default shape (byte-level, d128 x 2, segment 64, chunk 16, depth-2 memory)
//   next:  the coming default (BPE 8K, d256 x 2, segment 128, chunk 32, linear memory, 4 heads of 64)
//   split: per-head 2-D products on wasm (the app's setting); batched: wasm's batched matmul
//   fast:  the memory's inference path (models/memory/fast-update.ts); slow: the general path
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../models/backend.js';
import { setWasmBatchSplit } from '../../models/memory/ops.js';
import { modelConfig } from '../../models/model/config.js';
import { disposeModelState, TitansModel, type ModelState } from '../../models/model/model.js';

async function main(): Promise<void> {
  const shape = process.argv[2] ?? 'small';
  const split = process.argv[3] === 'split';
  await selectBackend({ force: 'wasm' });
  setWasmBatchSplit(split);
  const cfgs: Record<string, Parameters<typeof modelConfig>[0]> = {
    small: { vocabSize: 260, dim: 128, layers: 2, heads: 4, segment: 64, memory: { chunkSize: 16, heads: 2 } },
    next: { vocabSize: 8192, dim: 256, layers: 2, heads: 8, segment: 128, memory: { chunkSize: 32, heads: 4, depth: 1 } },
  };
  const config = modelConfig(cfgs[shape]!);
  const model = new TitansModel(config, { seed: 1 });
  const TOK = config.segment * 8;
  const text = tf.tidy(() => tf.cast(tf.floor(tf.mul(tf.randomUniform([1, TOK], 0, 1, 'float32', 1), config.vocabSize)), 'int32'));
  const step = config.segment * Math.max(1, Math.round(256 / config.segment));
  const read = (surprise: boolean) => {
    let state: ModelState | null = null;
    for (let s = 0; s < TOK; s += step) {
      const piece = tf.slice(text, [0, s], [1, step]);
      const r = model.forward(piece, state, { surprise, fast: process.argv[4] !== 'slow' });
      piece.dispose();
      r.logits.dataSync();
      r.logits.dispose();
      disposeModelState(state);
      state = r.state;
    }
    disposeModelState(state);
  };
  read(true);
  // count kernels
  const counts = new Map<string, number>();
  const prof = await tf.profile(() => { read(process.env.NO_SURPRISE !== '1'); return tf.scalar(0); });
  let total = 0, ktime = 0;
  for (const k of prof.kernels) { counts.set(k.name, (counts.get(k.name) ?? 0) + 1); total++; ktime += (k.kernelTimeMs as number) || 0; }
  const segs = TOK / config.segment;
  console.log(shape, 'kernels per segment', (total / segs).toFixed(0), 'kernel time ms/seg', (ktime/segs).toFixed(2));
  const times = new Map<string, number>();
  for (const k of prof.kernels) times.set(k.name, (times.get(k.name) ?? 0) + ((k.kernelTimeMs as number) || 0));
  console.log('time ms/seg:', [...times].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([n, c]) => `${n}:${(c / segs).toFixed(1)}`).join(' '));
  const mm = new Map<string, [number, number]>();
  for (const k of prof.kernels) if (k.name === 'BatchMatMul') { const key = JSON.stringify(k.inputShapes); const e = mm.get(key) ?? [0, 0]; e[0]++; e[1] += (k.kernelTimeMs as number) || 0; mm.set(key, e); }
  console.log([...mm].sort((a, b) => b[1][1] - a[1][1]).slice(0, 12).map(([n, [c, t]]) => `${n} x${(c/segs).toFixed(1)} ${(t/segs).toFixed(2)}ms`).join('\n'));
  console.log([...counts].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([n, c]) => `${n}:${(c / segs).toFixed(0)}`).join(' '));
  for (const s of [true, false]) {
    const t0 = performance.now(); read(s); const dt = (performance.now() - t0) / 1000;
    console.log(`surprise=${s} tok/s ${(TOK / dt).toFixed(0)}  ms/seg ${(dt*1000/segs).toFixed(1)}`);
  }
}
main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
