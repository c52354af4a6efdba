// `npm run model:pin [-- --float16] [--file F]`: pins the default model in main's tree. It writes
// models/default/model.json with the file's sha256 and size and the model's loss on
// models/default/check.txt (a short English text no recipe trains on) beside a fresh model's of
// the same shape, which is how the tests tell a trained default model from an untrained one.
// --float16 stores the weights as float16 first, after checking on the same text that it costs
// less than 0.001 nats per byte; the recipe's stages call this at the end of every run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SYNC_BACKEND_ORDER, selectBackend } from '../models/backend.js';
import { decodeCheckpoint, encodeCheckpoint, writeFileAtomicSync } from '../models/checkpoint/format.js';
import { modelFromCheckpoint } from '../models/model/io.js';
import { TitansModel } from '../models/model/model.js';
import { BASE_MODEL_FILE, checkTextLoss, projectRoot, type DefaultModelPin } from '../models/default/default-model.js';


export function pinDefaultModel(o: { file: string; float16: boolean }): DefaultModelPin {
  const checkFile = path.join(path.dirname(o.file), 'check.txt');
  const text = fs.readFileSync(checkFile, 'utf8');
  let bytes: Uint8Array = fs.readFileSync(o.file);
  let checkpoint = decodeCheckpoint(bytes);
  const measure = (c: typeof checkpoint) => {
    const { model, tokenizer } = modelFromCheckpoint(c);
    try {
      return checkTextLoss(model, tokenizer, text);
    } finally {
      model.dispose();
    }
  };
  let loss = measure(checkpoint);
  if (o.float16 && checkpoint.tensors.some((t) => t.dtype !== 'float16' && t.data instanceof Float32Array)) {
    const half = { ...checkpoint, tensors: checkpoint.tensors.map((t) => (t.data instanceof Float32Array ? { ...t, dtype: 'float16' as const } : t)) };
    const halfBytes = encodeCheckpoint(half);
    const halfLoss = measure(decodeCheckpoint(halfBytes));
    console.log(`check.txt: float32 ${loss.toFixed(5)} nats/byte, float16 ${halfLoss.toFixed(5)} (${(halfBytes.length / 1e6).toFixed(2)} MB instead of ${(bytes.length / 1e6).toFixed(2)})`);
    if (Math.abs(halfLoss - loss) >= 1e-3) {
      console.log(`float16 changes the loss on check.txt by ${(halfLoss - loss).toFixed(5)} nats/byte (limit 0.001): keeping float32.`);
    } else {
      writeFileAtomicSync(o.file, halfBytes);
      bytes = halfBytes;
      checkpoint = decodeCheckpoint(bytes);
      loss = halfLoss;
    }
  }
  const { model: trained, tokenizer } = modelFromCheckpoint(checkpoint);
  const fresh = new TitansModel(trained.config, { seed: 1 });
  const untrained = checkTextLoss(fresh, tokenizer, text);
  fresh.dispose();
  const meta = checkpoint.meta as Record<string, unknown>;
  const pin: DefaultModelPin = {
    name: String(meta.name ?? 'Titans default model'),
    file: path.basename(o.file),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    storage: checkpoint.tensors.some((t) => t.dtype === 'float16') ? 'float16' : 'float32',
    steps: Number(meta.steps ?? 0),
    parameters: trained.parameterCount,
    check: { file: 'check.txt', lossPerByte: loss, untrainedLossPerByte: untrained },
  };
  trained.dispose();
  fs.writeFileSync(path.join(path.dirname(o.file), 'model.json'), `${JSON.stringify(pin, null, 2)}\n`);
  console.log(`Pinned ${pin.file}: ${pin.storage}, ${(pin.bytes / 1e6).toFixed(2)} MB, sha256 ${pin.sha256.slice(0, 12)}…, check.txt ${loss.toFixed(3)} nats/byte (untrained ${untrained.toFixed(3)}).`);
  return pin;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--file');
  const file = path.resolve(at >= 0 && args[at + 1] ? args[at + 1]! : path.join(projectRoot()!, 'models', 'default', BASE_MODEL_FILE));
  selectBackend({ order: SYNC_BACKEND_ORDER })
    .then(() => pinDefaultModel({ file, float16: args.includes('--float16') }))
    .then(() => process.exit(0), (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
