// Model versions in the library: which exist (the models table), which one reads (the
// 'reading.model' setting), deleting one with what it read, and its file for export.
import fs from 'node:fs';
import path from 'node:path';
import { checkpointToSafetensors } from '../../models/checkpoint/safetensors.js';
import { decodeCheckpoint } from '../../models/checkpoint/format.js';
import type { ModelVersion } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';

const SELECTED = 'reading.model';

interface Row {
  id: string;
  name: string;
  file: string;
  arch: string;
  parameters: number;
  trained: number;
  parent_id: string | null;
  parent_name: string | null;
  meta: string | null;
  added_at: string;
  documents: number;
}

export function selectedModelId(db: Db): string | null {
  return (db.prepare(`SELECT value FROM settings WHERE key = ?`).pluck().get(SELECTED) as string | undefined) ?? null;
}

/** The selected version's file, when it is still there. */
export function selectedModelFile(db: Db): string | null {
  const id = selectedModelId(db);
  if (!id) return null;
  const file = db.prepare(`SELECT file FROM models WHERE id = ?`).pluck().get(id) as string | undefined;
  return file && fs.existsSync(file) ? file : null;
}

export function setSelectedModel(db: Db, id: string): void {
  db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(SELECTED, id);
}

export function modelRow(db: Db, id: string): { id: string; name: string; file: string } {
  const row = db.prepare(`SELECT id, name, file FROM models WHERE id = ?`).get(id) as { id: string; name: string; file: string } | undefined;
  if (!row) throw new ApiError('not_found', `There is no model version ${id}.`, 'Refresh the list of models.');
  return row;
}

/** Every version, the reading one marked (`readingId`: the id the model worker reads with). */
export function listModels(db: Db, dataDir: string, readingId: string | null): ModelVersion[] {
  const rows = db
    .prepare(
      `SELECT m.id, m.name, m.file, m.arch, m.parameters, m.trained, m.parent_id, p.name AS parent_name, m.meta, m.added_at,
              (SELECT count(*) FROM memory_states s WHERE s.model_id = m.id) AS documents
       FROM models m LEFT JOIN models p ON p.id = m.parent_id ORDER BY m.added_at, m.id`,
    )
    .all() as Row[];
  const ownDir = path.resolve(dataDir, 'models');
  return rows.map((r) => {
    const meta = (r.meta ? JSON.parse(r.meta) : {}) as { steps?: number; heldOutBefore?: number; heldOutAfter?: number; data?: string[] };
    return {
      id: r.id,
      name: r.name,
      file: r.file,
      arch: r.arch,
      parameters: r.parameters,
      trained: r.trained === 1,
      parentId: r.parent_id,
      parentName: r.parent_name,
      steps: typeof meta.steps === 'number' ? meta.steps : null,
      perplexityBefore: typeof meta.heldOutBefore === 'number' ? Math.exp(meta.heldOutBefore) : null,
      perplexityAfter: typeof meta.heldOutAfter === 'number' ? Math.exp(meta.heldOutAfter) : null,
      data: Array.isArray(meta.data) ? meta.data.filter((d): d is string => typeof d === 'string') : [],
      documents: r.documents,
      selected: r.id === readingId,
      owned: path.dirname(path.resolve(r.file)) === ownDir,
      missing: !fs.existsSync(r.file),
      addedAt: r.added_at,
    };
  });
}

/** Remove a version and everything it read (memory states, traces, readings cascade); its file too when the library made it. */
export function deleteModel(db: Db, dataDir: string, id: string, readingId: string | null): { deleted: boolean; documents: number } {
  const row = modelRow(db, id);
  if (id === readingId) throw new ApiError('conflict', `“${row.name}” is the model that reads now.`, 'Select another version first, then delete this one.');
  const pending = db.prepare(`SELECT name FROM finetunes WHERE base_model_id = ? AND status IN ('running', 'paused', 'failed')`).pluck().all(id) as string[];
  if (pending.length > 0) throw new ApiError('conflict', `“${row.name}” is the base of an unfinished fine-tune (${pending.map((n) => `“${n}”`).join(', ')}).`, 'Finish or cancel that fine-tune first.');
  const documents = db.prepare(`SELECT count(*) FROM memory_states WHERE model_id = ?`).pluck().get(id) as number;
  db.transaction(() => {
    db.prepare(`UPDATE models SET parent_id = NULL WHERE parent_id = ?`).run(id);
    db.prepare(`DELETE FROM models WHERE id = ?`).run(id);
    if (selectedModelId(db) === id) db.prepare(`DELETE FROM settings WHERE key = ?`).run(SELECTED);
  })();
  if (path.dirname(path.resolve(row.file)) === path.resolve(dataDir, 'models')) fs.rmSync(row.file, { force: true });
  return { deleted: true, documents };
}

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
