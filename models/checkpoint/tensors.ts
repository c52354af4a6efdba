// tf.Tensor / tf.Variable records <-> checkpoint tensors.
import * as tf from '@tensorflow/tfjs';
import { CheckpointError, type CheckpointTensor, type StorageDType } from './format.js';

export interface ToCheckpointOptions {
  /** prefix added to every name ("optimizer/m/") */
  prefix?: string;
  /** store float32 tensors as float16 (all, or those the predicate picks) */
  float16?: boolean | ((name: string) => boolean);
}

/** read a record of tensors (variables included) into checkpoint tensors (copies, synchronous) */
export function tensorsToCheckpoint(
  record: Record<string, tf.Tensor>,
  opts: ToCheckpointOptions = {},
): CheckpointTensor[] {
  const prefix = opts.prefix ?? '';
  const out: CheckpointTensor[] = [];
  for (const [name, t] of Object.entries(record)) {
    let data: Float32Array | Int32Array;
    let dtype: StorageDType;
    if (t.dtype === 'float32') {
      data = (t.dataSync() as Float32Array).slice();
      const half = typeof opts.float16 === 'function' ? opts.float16(name) : opts.float16 === true;
      dtype = half ? 'float16' : 'float32';
    } else if (t.dtype === 'int32' || t.dtype === 'bool') {
      data = Int32Array.from(t.dataSync() as Int32Array | Uint8Array);
      dtype = 'int32';
    } else {
      throw new CheckpointError('invalid-input', `tensor "${name}": dtype ${t.dtype} cannot be stored`);
    }
    out.push({ name: prefix + name, shape: [...t.shape], data, dtype });
  }
  return out;
}

/** the checkpoint tensors whose name starts with `prefix`, the prefix removed */
export function selectPrefix(tensors: CheckpointTensor[], prefix: string): CheckpointTensor[] {
  return tensors.filter((t) => t.name.startsWith(prefix)).map((t) => ({ ...t, name: t.name.slice(prefix.length) }));
}

/** new tf tensors from checkpoint tensors (the caller disposes them) */
export function checkpointToTensors(tensors: CheckpointTensor[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const t of tensors) {
    out[t.name] = t.data instanceof Int32Array ? tf.tensor(t.data, t.shape, 'int32') : tf.tensor(t.data, t.shape, 'float32');
  }
  return out;
}

export interface AssignOptions {
  /** only checkpoint tensors with this prefix are considered (the prefix is removed) */
  prefix?: string;
  /** names present in the record but absent from the checkpoint are left alone (default: error) */
  allowMissing?: boolean;
  /** checkpoint tensors with no variable are ignored (default: error) */
  allowExtra?: boolean;
}

/** assign checkpoint values into existing variables, checking names, shapes and dtypes first
 * (nothing is assigned unless everything matches) */
export function assignCheckpointTensors(
  vars: Record<string, tf.Variable>,
  tensors: CheckpointTensor[],
  opts: AssignOptions = {},
): void {
  const list = opts.prefix !== undefined ? selectPrefix(tensors, opts.prefix) : tensors;
  const byName = new Map(list.map((t) => [t.name, t]));
  const missing = Object.keys(vars).filter((k) => !byName.has(k));
  const extra = [...byName.keys()].filter((k) => !(k in vars));
  const problems: string[] = [];
  if (missing.length > 0 && !opts.allowMissing) problems.push(`missing from the checkpoint: ${missing.join(', ')}`);
  if (extra.length > 0 && !opts.allowExtra) problems.push(`not in the model: ${extra.join(', ')}`);
  for (const [name, v] of Object.entries(vars)) {
    const t = byName.get(name);
    if (!t) continue;
    if (t.shape.length !== v.shape.length || t.shape.some((s, i) => s !== v.shape[i])) {
      problems.push(`"${name}": checkpoint shape [${t.shape.join(', ')}] vs variable [${v.shape.join(', ')}]`);
    }
    const isInt = t.data instanceof Int32Array;
    if (isInt !== (v.dtype === 'int32')) problems.push(`"${name}": checkpoint ${isInt ? 'int32' : 'float'} vs variable ${v.dtype}`);
  }
  if (problems.length > 0) throw new CheckpointError('invalid-input', `checkpoint does not fit: ${problems.join('; ')}`);
  for (const [name, v] of Object.entries(vars)) {
    const t = byName.get(name);
    if (!t) continue;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, v.dtype)));
  }
}
