// `titans-reader model export MODEL.trd OUT.safetensors` and `model import IN.safetensors OUT.trd`:
// models in and out of the safetensors format, with the tensor names and metadata documented in
// models/checkpoint/README.md, so a model trained elsewhere (e.g. PyTorch on GPUs) runs here.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import { decodeCheckpoint, encodeCheckpoint, writeFileAtomicSync } from '../../models/checkpoint/format.js';
import { checkpointToSafetensors } from '../../models/checkpoint/safetensors.js';
import { modelCheckpointFromSafetensors, modelFromCheckpoint } from '../../models/model/io.js';
import type { Out } from './reading.js';

export const MODEL_USAGE = `Usage: titans-reader model export MODEL.trd OUT.safetensors
       titans-reader model import IN.safetensors OUT.trd`;

export async function modelCommand(args: string[], out: Out, err: Out): Promise<number> {
  const [what, from, to] = args;
  if ((what !== 'export' && what !== 'import') || !from || !to) {
    err(MODEL_USAGE);
    return 2;
  }
  try {
    const bytes = fs.readFileSync(from);
    if (what === 'export') {
      const st = checkpointToSafetensors(decodeCheckpoint(bytes));
      writeFileAtomicSync(to, st);
      out(`${from} → ${to} (safetensors, ${(st.length / 1024 / 1024).toFixed(1)} MB)`);
    } else {
      const c = modelCheckpointFromSafetensors(bytes);
      await tf.ready();
      const { model } = modelFromCheckpoint(c); // every parameter present, with its shape: or a clear error
      const params = model.parameterCount;
      model.dispose();
      writeFileAtomicSync(to, encodeCheckpoint(c));
      out(`${from} → ${to} (a Titans ${(c.config as { arch?: string }).arch?.toUpperCase()} model, ${params.toLocaleString('en')} parameters)`);
    }
    return 0;
  } catch (e) {
    err(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
