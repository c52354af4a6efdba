// The TypeScript trainer's speed at a given shape, as one JSON line (train/torch/bench.py runs it
// beside the PyTorch trainer and prints both):
//   npx tsx scripts/bench/train-speed.ts [--steps 5] [--batch 1] [--seq 512] [--backend wasm]
// The model is the app's default reader (defaultReaderConfig), trained by the real loop
// (models/train/trainer.ts: forward + backward, clipping, AdamW) on windows of a generated text;
// tokens/s counts every step after the first (which warms the backend up).
import { selectBackend, parseBackendName } from '../../models/backend.js';
import { TitansModel } from '../../models/model/model.js';
import { tokenizeTexts } from '../../models/model/train-lm.js';
import { WindowSampler } from '../../models/train/data.js';
import { train } from '../../models/train/trainer.js';
import { ByteTokenizer } from '../../models/tokenizer/index.js';
import { defaultReaderConfig } from '../../core/reading/reader-model.js';
import { randomSource } from '../../models/util/random.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const steps = Number(opt('steps', '5'));
const batchSize = Number(opt('batch', '1'));
const seqLen = Number(opt('seq', '512'));

async function main(): Promise<void> {
  const backend = await selectBackend({ force: parseBackendName(opt('backend', 'wasm')) });
  const model = new TitansModel(defaultReaderConfig(), { seed: 1 });
  const next = randomSource(3);
  const words = 'the keeper lantern gull winter ship night book number story river morning'.split(' ');
  const text = Array.from({ length: 40_000 }, () => words[Math.floor(next() * words.length)]).join(' ');
  const sampler = new WindowSampler({ docs: tokenizeTexts(new ByteTokenizer(), [text]), batchSize, seqLen, seed: 1 });
  const times: number[] = [];
  await train({
    params: model.params.all,
    loss: (batch) => model.loss(batch),
    nextBatch: () => sampler.nextTensor(),
    steps,
    schedule: { peakLr: 2e-3, warmupSteps: 1 },
    clip: 1,
    weightDecay: 0.1,
    tokensPerBatch: batchSize * seqLen,
    onStep: (m) => times.push(m.elapsedMs),
  });
  const measured = times.length > 1 ? (times[times.length - 1]! - times[0]!) / (times.length - 1) : times[0]!;
  console.log(JSON.stringify({ trainer: 'tfjs', backend: backend.name, threads: backend.threads, batch: batchSize, seq: seqLen, steps, parameters: model.parameterCount, msPerStep: measured, tokensPerSecond: (batchSize * seqLen * 1000) / measured }));
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
