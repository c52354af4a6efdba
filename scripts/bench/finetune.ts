// `npm run bench:finetune`: fine-tuning throughput of the reader's model shape with each choice of
// what trains (everything, the memory's projections and gates, the last layer), on a generated
// book, with the project's training loop. Prints tokens/s, peak memory (RSS) and the ratio to
// training everything, measured in the same run, plus how much held-out loss fell in those steps.
// Usage: npm run bench:finetune [-- --steps 20 --batch 2 --seq 256 --backend wasm]
import { selectBackend, parseBackendName } from '../../models/backend.js';
import { TitansModel } from '../../models/model/model.js';
import { trainLanguageModel } from '../../models/model/train-lm.js';
import { ByteTokenizer } from '../../models/tokenizer/index.js';
import { defaultReaderConfig } from '../../core/reading/reader-model.js';
import { trainableFilter } from '../../core/training/trainable.js';
import type { Trainable } from '../../core/api/contract.js';
import { makeBook } from '../../test/fixtures/texts.js';

const arg = (name: string, fallback: string) => process.argv.find((_, i) => process.argv[i - 1] === `--${name}`) ?? fallback;
const steps = Number(arg('steps', '20'));
const batchSize = Number(arg('batch', '2'));
const seqLen = Number(arg('seq', '256'));
const backend = await selectBackend(process.argv.includes('--backend') ? { force: parseBackendName(arg('backend', 'wasm')) } : {});
const texts = [makeBook({ chapters: 6, paragraphsPerChapter: 30, seed: 5 }), makeBook({ chapters: 6, paragraphsPerChapter: 30, seed: 6 })];
const config = defaultReaderConfig();

const rows: Array<{ part: Trainable; params: number; tps: number; mb: number; drop: number }> = [];
for (const part of ['all', 'memory', 'last'] as Trainable[]) {
  const model = new TitansModel(config, { seed: 1 });
  const filter = trainableFilter(part, config.layers);
  const params = Object.entries(model.params.all).filter(([n]) => (filter ? filter(n) : true)).reduce((s, [, v]) => s + v.size, 0);
  let peak = process.memoryUsage().rss;
  let tps = 0;
  const r = await trainLanguageModel({
    model, tokenizer: new ByteTokenizer(), texts, steps, batchSize, seqLen, peakLr: 3e-3, evalWindows: 8, trainable: filter,
    onStep: (m) => {
      peak = Math.max(peak, process.memoryUsage().rss);
      if (m.step > 2) tps = m.tokensPerSecond; // the mean over this call, once past the first steps
    },
  });
  rows.push({ part, params, tps, mb: peak / 1024 / 1024, drop: r.heldOutBefore - r.heldOutAfter });
  model.dispose();
}

const base = rows[0]!;
console.log(`\nFine-tuning MAC d${config.dim} x${config.layers}, ${steps} steps of ${batchSize} x ${seqLen} tokens, ${backend.name} backend\n`);
console.log('| what trains | parameters | tokens/s | vs all | peak RSS (MB) | held-out loss fell by (nats) |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.part} | ${r.params.toLocaleString('en')} | ${r.tps.toFixed(0)} | ${(r.tps / base.tps).toFixed(2)}x | ${r.mb.toFixed(0)} | ${r.drop.toFixed(3)} |`);
