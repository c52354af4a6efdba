// Model versions in the library: their file for export and import (the models table and the
// 'reading.model' setting are core/library/model-registry.ts, re-exported here).
import fs from 'node:fs';
import path from 'node:path';
import { checkpointToSafetensors } from '../../models/checkpoint/safetensors.js';
import { decodeCheckpoint } from '../../models/checkpoint/format.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { modelRow } from '../library/model-registry.js';

export { deleteModel, listModels, modelRow, selectedModelFile, selectedModelId, setSelectedModel } from '../library/model-registry.js';

const EXPORT_CHUNK = 3 * 1024 * 1024; // bytes per chunk (4 MiB of base64)
let lastConversion: { id: string; size: number; bytes: Uint8Array } | null = null;

/** One chunk of a version's file, as it is stored or as safetensors. */
export function exportChunk(db: Db, id: string, format: 'trd' | 'safetensors', offset: number): { fileName: string; total: number; base64: string } {
  const row = modelRow(db, id);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(row.file);
  } catch {
    throw new ApiError('not_found', `The file of “${row.name}” is gone (${row.file}).`, 'Delete this version, or put the file back.');
  }
  if (format === 'safetensors') {
    // converted once per export, not once per chunk
    if (lastConversion?.id !== id || lastConversion.size !== bytes.length) lastConversion = { id, size: bytes.length, bytes: checkpointToSafetensors(decodeCheckpoint(bytes)) };
    bytes = lastConversion.bytes;
  }
  const base = path.basename(row.file, path.extname(row.file));
  return { fileName: `${base}.${format}`, total: bytes.length, base64: Buffer.from(bytes.subarray(offset, offset + EXPORT_CHUNK)).toString('base64') };
}

/** Bring in a model file (.trd, or .safetensors as documented) as a version: converted, checked by
 * loading it and reading a few tokens in a worker, kept in the library's models folder. */
export async function importModel(db: Db, dataDir: string, file: string, name: string, check: (file: string) => Promise<unknown>): Promise<string> {
  const { decodeCheckpoint, encodeCheckpoint } = await import('../../models/checkpoint/format.js');
  const { modelCheckpointFromSafetensors } = await import('../../models/model/io.js');
  const { inspectModelFile, registerModel } = await import('../reading/reader-model.js');
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ApiError('unreadable', `${name} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`);
  }
  let trd: Uint8Array;
  try {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
    trd = head.startsWith('TITANS') ? encodeCheckpoint(decodeCheckpoint(bytes)) : encodeCheckpoint(modelCheckpointFromSafetensors(bytes));
  } catch (e) {
    throw new ApiError('unreadable', `${name} is not a Titans model: ${(e as Error).message}.`, 'Export it with Titans Reader, or write safetensors with the tensor names of models/checkpoint/README.md.');
  }
  const dir = path.join(dataDir, 'models');
  fs.mkdirSync(dir, { recursive: true });
  const base = path.basename(name, path.extname(name)).replace(/[^\w.-]+/g, '-').slice(0, 60) || 'model';
  const target = path.join(dir, `${base}-${Date.now().toString(36)}.trd`);
  fs.writeFileSync(target, trd);
  try {
    await check(target);
  } catch (e) {
    fs.rmSync(target, { force: true });
    throw new ApiError('unreadable', `${name} does not load as a Titans model: ${(e as Error).message}`, 'Check that every tensor is present with its shape (models/checkpoint/README.md).');
  }
  const info = inspectModelFile(target);
  const meta = { ...info.meta, name: typeof info.meta.name === 'string' ? info.meta.name : base };
  registerModel(db, { ...info.info, name: meta.name as string }, info.config, info.tokenizer, meta);
  return info.info.id;
}
