// The models table: a model version is registered by the main thread (the model worker hands it
// what to store; core/reading/queue.ts), by fine-tuning, and by importing a model file.
import type { ModelInfo } from '../api/contract.js';
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

