// A book's neural memory as a model left it: the state after the whole book, else the last
// checkpoint of a reading in progress (stored in SQLite as checkpoint bytes).
import { decodeCheckpoint } from '../../models/checkpoint/format.js';
import { stateFromCheckpoint } from '../../models/model/io.js';
import type { ModelState } from '../../models/model/model.js';
import type { Db } from '../library/database.js';
import { memoryBytes } from '../library/memories.js';

/** A stored state's bytes as a model state (null stays null). */
export function memoryFromBytes(bytes: Buffer | null): ModelState | null {
  return bytes ? stateFromCheckpoint(decodeCheckpoint(bytes)) : null;
}

/** The book's memory read by this model (null: not read yet). */
export function loadMemory(db: Db, docId: number, modelId: string): ModelState | null {
  return memoryFromBytes(memoryBytes(db, docId, modelId));
}
