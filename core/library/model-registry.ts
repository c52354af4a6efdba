// The models table and the 'reading.model' setting: a model version is registered by the main
// thread (the model worker hands it what to store; core/reading/queue.ts), by fine-tuning, and by
// importing a model file; listed, selected and deleted with what it read (core/training/versions.ts
// and the models handlers call these).
import fs from 'node:fs';
import path from 'node:path';
import type { ModelInfo, ModelVersion } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from './database.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Add a model version to the library (or update where its file now is). */
export function registerModel(db: Db, info: ModelInfo, config: unknown, tokenizer: unknown, meta: Record<string, Json>): void {
  const parent = typeof meta.parent === 'string' ? meta.parent : null;
  db.prepare(
    `INSERT INTO models (id, name, file, arch, parameters, config, tokenizer, trained, added_at, parent_id, meta) VALUES (@id, @name, @file, @arch, @parameters, @config, @tokenizer, @trained, @addedAt, @parent, @meta)
     ON CONFLICT (id) DO UPDATE SET file = excluded.file, meta = excluded.meta, parent_id = excluded.parent_id`,
  ).run({ ...info, trained: info.trained ? 1 : 0, config: JSON.stringify(config), tokenizer: JSON.stringify(tokenizer), addedAt: new Date().toISOString(), parent, meta: JSON.stringify(meta) });
}

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
