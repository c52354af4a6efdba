// `titans-reader train FILE... --out MODEL`: train a Titans language model on text files with the
// model's own training loop (AdamW, warmup + cosine, clipping, held-out evaluation). Progress and
// ETA are printed; Ctrl+C stops after the current step and keeps a checkpoint to resume from.
import fs from 'node:fs';
import path from 'node:path';
import { writeCheckpointFile, readCheckpointFileSync } from '../../models/checkpoint/format.js';
import { backendLabel, selectBackend } from '../../models/backend.js';
import { modelConfig, type Architecture } from '../../models/model/config.js';
import { modelFromCheckpoint, modelToCheckpoint } from '../../models/model/io.js';
import { TitansModel } from '../../models/model/model.js';
import { trainLanguageModel } from '../../models/model/train-lm.js';
import { prefetch } from '../../models/util/readback.js';
import { ByteTokenizer, trainBpe, type Tokenizer } from '../../models/tokenizer/index.js';
import { readTextFile } from '../ingest/read-text.js';
import { formatDuration } from './format.js';

export const TRAIN_USAGE = `Usage: titans-reader train FILE... --out MODEL.trd [options]

Options:
  --out PATH          where the trained model is written (a checkpoint beside it allows resuming)
  --from PATH         start from this model instead of a new one (fine-tuning)
  --steps N           training steps (default 500)
  --arch A            mac (default), mag, mal or lmm
  --dim D --layers L --heads H --segment C   model size (default 128, 2, 4, 64)
  --tokenizer T       byte (default) or bpe:N (train N merges on the files)
  --batch B --seq T   batch size and tokens per window (default 2, 256: larger batches can exhaust the wasm heap)
  --lr X              peak learning rate (default 3e-3)
  --backend NAME      webgpu, node-gpu, node, wasm or cpu (default: the fastest available)`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function positional(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.startsWith('--')) i++;
    else out.push(args[i]!);
  }
  return out;
}

export async function trainCommand(args: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const files = positional(args);
  const target = option(args, 'out');
  if (files.length === 0 || !target) {
    err(TRAIN_USAGE);
    return 2;
  }
  const num = (name: string, fallback: number) => {
    const v = option(args, name);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const texts = files.map((f) => readTextFile(f));
  const backend = await selectBackend(option(args, 'backend') ? { force: option(args, 'backend')! } : {});
  out(`Backend: ${backendLabel(backend)}, ${backend.threads} thread${backend.threads === 1 ? '' : 's'}${backend.gpu ? ', GPU' : ''}`);

  let model: TitansModel;
  let tokenizer: Tokenizer;
  const from = option(args, 'from');
  if (from) {
    ({ model, tokenizer } = modelFromCheckpoint(readCheckpointFileSync(from)));
    out(`Fine-tuning ${path.basename(from)}`);
  } else {
    const tokSpec = option(args, 'tokenizer') ?? 'byte';
    tokenizer = tokSpec.startsWith('bpe:') ? trainBpe(texts, Number(tokSpec.slice(4))) : new ByteTokenizer();
    model = new TitansModel(
      modelConfig({
        arch: (option(args, 'arch') ?? 'mac') as Architecture,
        vocabSize: tokenizer.vocabSize,
        dim: num('dim', 128),
        layers: num('layers', 2),
        heads: num('heads', 4),
        segment: num('segment', 64),
        memory: { chunkSize: 16 },
      }),
      { seed: 1 },
    );
  }
  out(`Model: ${model.config.arch.toUpperCase()}, ${(model.parameterCount / 1e6).toFixed(2)}M parameters, ${tokenizer.spec.kind} tokenizer (${tokenizer.vocabSize} tokens)`);

  const controller = new AbortController();
  const onSigint = () => {
    out('\nStopping after this step; the checkpoint keeps the progress.');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  const checkpointPath = `${target}.training`;
  if (fs.existsSync(checkpointPath)) out(`Resuming from ${checkpointPath}`);
  try {
    const steps = num('steps', 500);
    const result = await trainLanguageModel({
      model,
      tokenizer,
      texts,
      steps,
      batchSize: num('batch', 2),
      seqLen: num('seq', 256),
      peakLr: num('lr', 3e-3),
      evalEvery: Math.max(10, Math.round(steps / 10)),
      checkpointPath,
      checkpointEvery: { seconds: 120 },
      signal: controller.signal,
      onStep: (m) => {
        if (m.step % 10 !== 0 && m.evalLoss === undefined) return;
        const held = m.evalLoss === undefined ? '' : `, held-out ${m.evalLoss.toFixed(3)}`;
        out(`step ${m.step}/${steps}: loss ${m.loss.toFixed(3)}${held}, lr ${m.lr.toExponential(1)}, ${m.tokensPerSecond.toFixed(0)} tok/s, ${formatDuration(m.etaMs / 1000)} left`);
      },
    });
    if (result.aborted) {
      out(`Stopped at step ${result.step}. Run the same command again to continue.`);
      return 130;
    }
    await prefetch(Object.values(model.params.all)); // webgpu: read asynchronously before the synchronous writer
    await writeCheckpointFile(target, modelToCheckpoint(model, tokenizer.spec, { trainedOn: files.map((f) => path.basename(f)), steps: result.step, heldOutLoss: result.heldOutAfter }));
    fs.rmSync(checkpointPath, { force: true });
    out(`Held-out loss ${result.heldOutBefore.toFixed(3)} -> ${result.heldOutAfter.toFixed(3)} nats/token (perplexity ${Math.exp(result.heldOutAfter).toFixed(2)}). Model written to ${target}`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
  }
}
