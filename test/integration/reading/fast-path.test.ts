// The app reads with the memory's inference path (models/memory/fast-update.ts, ReadOptions.fast).
// With the shipped default model, a reading by it must store the surprise and end in the memory of
// a reading by the general path (the one training uses) within float32 rounding, over thousands
// of tokens in which any error in the update would compound chunk after chunk.
// (On an untrained model the two drift apart chaotically, float32 rounding amplified chunk by
// chunk; a trained memory is contractive, which is what this checks on the real weights.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { readDocument } from '../../../core/reading/read-document.js';
import { loadReaderModel, type LoadedReaderModel } from '../../../core/reading/reader-model.js';
import { decodeTracePiece } from '../../../core/reading/trace.js';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { shippedModelFile } from '../../../models/default/default-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { compare, useBackend } from '../../helpers/models.js';

let dir: string;
let m: LoadedReaderModel;
const dbs: Db[] = [];
const text = makeBook({ chapters: 4, paragraphsPerChapter: 14, seed: 5, title: 'Fast and general' });

beforeAll(async () => {
  await useBackend('wasm'); // the backend the app reads with here
  dir = tempDir('titans-fast-');
  const setup = openDatabase(path.join(dir, 'setup.sqlite'));
  dbs.push(setup);
  m = loadReaderModel(setup, dir, shippedModelFile({}));
});
afterAll(() => {
  m.model.dispose();
  dbs.forEach((db) => db.close());
  fs.rmSync(dir, { recursive: true, force: true });
});

async function readWith(fast: boolean) {
  const db = openDatabase(path.join(dir, `${fast ? 'fast' : 'general'}.sqlite`));
  dbs.push(db);
  loadReaderModel(db, dir, shippedModelFile({})).model.dispose(); // registers the model in this library
  const docId = (await importFile(db, writeFile(dir, 'book.txt', text))).document.id;
  const r = await readDocument({ db, docId, modelId: m.info.id, model: m.model, tokenizer: m.tokenizer, backend: 'wasm', fast });
  expect(r.outcome).toBe('done');
  const pieces = (db.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? ORDER BY piece`).all(docId) as Array<{ data: Buffer }>).map((p) => decodeTracePiece(p.data));
  const state = decodeCheckpoint(db.prepare(`SELECT state FROM memory_states WHERE doc_id = ?`).pluck().get(docId) as Buffer);
  return { tokens: r.tokensDone, surprisal: pieces.flatMap((p) => Array.from(p.surprisal)), state };
}

describe('the fast reading path with the default model', () => {
  it('stores the surprise and the memory of the general path', async () => {
    const general = await readWith(false);
    const fast = await readWith(true);
    expect(general.tokens).toBeGreaterThan(3000);
    expect(fast.tokens).toBe(general.tokens);
    // surprisal in nats, stored in float16 (about 4e-3 at 8 nats)
    expect(compare(fast.surprisal.slice(1), general.surprisal.slice(1)).maxAbs).toBeLessThan(2e-2);
    const mean = (a: number[]) => a.slice(1).reduce((s, x) => s + x, 0) / (a.length - 1);
    expect(Math.abs(mean(fast.surprisal) - mean(general.surprisal))).toBeLessThan(1e-3);
    expect(fast.state.tensors.map((t) => t.name)).toEqual(general.state.tensors.map((t) => t.name));
    for (const t of general.state.tensors) {
      const other = fast.state.tensors.find((x) => x.name === t.name)!;
      expect(compare(other.data, t.data).rel, t.name).toBeLessThan(1e-3);
    }
  }, 240_000);
});
