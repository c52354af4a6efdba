// Reading a document into memory, in-process on a real SQLite file with a real (tiny) model:
// the stored surprise equals the model's own numbers, the trace tiles the text, a paused and
// resumed read ends in the same memory as an uninterrupted one, and deleting removes it all.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { deleteDocument, readBlocks } from '../../../core/library/queries.js';
import { readDocument } from '../../../core/reading/read-document.js';
import { loadReaderModel, type LoadedReaderModel } from '../../../core/reading/reader-model.js';
import { decodeSummary, decodeTracePiece, KEEP_ALTERNATIVES, LOG_REL_ERROR, RANK_EXACT_BELOW, RANK_REL_ERROR, SUMMARY_BUCKET, type TracePiece } from '../../../core/reading/trace.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { compare, useBackend } from '../../helpers/models.js';

let dir: string;
let db: Db;
let m: LoadedReaderModel;
const text = makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 21, title: 'Tiny' }) + 'Ünïcödé ends it: ёж 🦔.\n';

beforeAll(async () => {
  await useBackend('wasm'); // the backend the app reads with when there is no native one
  dir = tempDir('titans-reading-');
  db = openDatabase(path.join(dir, 'library.sqlite'));
  m = loadReaderModel(db, dir, await writeTinyReaderModel(dir));
});
afterAll(() => {
  m.model.dispose();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pieces = (docId: number) =>
  (db.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? AND model_id = ? ORDER BY piece`).all(docId, m.info.id) as Array<{ data: Buffer }>).map((r) => decodeTracePiece(r.data));
const memoryState = (docId: number) => decodeCheckpoint(db.prepare(`SELECT state FROM memory_states WHERE doc_id = ? AND model_id = ?`).pluck().get(docId, m.info.id) as Buffer);
const read = (docId: number, extra: Partial<Parameters<typeof readDocument>[0]> = {}) =>
  readDocument({ db, docId, modelId: m.info.id, model: m.model, tokenizer: m.tokenizer, backend: 'wasm', stepTokens: 64, checkpointTokens: 256, fast: false, ...extra });
const concat = (ps: TracePiece[], get: (p: TracePiece) => ArrayLike<number>) => ps.flatMap((p) => Array.from(get(p)));

describe('readDocument', () => {
  let docId: number;

  it('reads the whole text, records surprise equal to the model\'s own, and saves the memory', async () => {
    docId = (await importFile(db, writeFile(dir, 'tiny.txt', text))).document.id;
    const progress: number[] = [];
    const r = await read(docId, { onProgress: (done) => progress.push(done) });
    const total = new TextEncoder().encode(text).length; // byte-level tokens
    expect(r).toMatchObject({ outcome: 'done', tokensDone: total, tokensTotal: total });
    expect(progress.at(-1)).toBe(total);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    const ps = pieces(docId);
    expect(ps.length).toBeGreaterThan(3); // a piece per checkpoint
    ps.forEach((p, i) => i > 0 && expect(p.startToken).toBe(ps[i - 1]!.startToken + ps[i - 1]!.offsets.length));
    const offsets = concat(ps, (p) => p.offsets);
    expect(offsets).toHaveLength(total);
    const enc = m.tokenizer.encode(readBlocks(db, docId, 0, 64).map((b) => b.text).join(''));
    expect(offsets).toEqual(Array.from(enc.offsets));

    // The model's surprisal of each token, from one forward call over the whole text.
    const ids = tf.tensor2d(enc.ids, [1, enc.ids.length], 'int32');
    const out = m.model.forward(ids, null);
    const logp = tf.logSoftmax(out.logits).dataSync() as Float32Array;
    tf.dispose([ids, out.logits]);
    const V = m.model.config.vocabSize;
    const expected = Array.from(enc.ids, (id, t) => (t === 0 ? NaN : -logp[(t - 1) * V + id]!));
    const stored = concat(ps, (p) => p.surprisal);
    expect(stored[0]).toBeNaN();
    const { maxAbs } = compare(stored.slice(1), expected.slice(1));
    expect(maxAbs).toBeLessThan(0.01); // float16 storage of values around 5.6 nats
    const ranks = concat(ps, (p) => p.rank);
    expect(ranks.slice(1).every((k) => k >= 0 && k < V)).toBe(true);
    // rank and the top-3 alternatives, against the logits sorted here
    // (kept for the most surprising tenth of each piece's tokens, marked absent for the others)
    const tops = concat(ps, (p) => p.top);
    const topProbs = concat(ps, (p) => p.topProb);
    const kept = concat(ps, (p) => p.altKept!);
    expect(tops.slice(0, 3)).toEqual([-1, -1, -1]);
    expect(kept.filter((k) => k === 1)).toHaveLength(ps.reduce((n, p) => n + Math.ceil(KEEP_ALTERNATIVES * p.offsets.length), 0));
    const keptAt = kept.flatMap((k, t) => (k ? [t] : []));
    for (const t of [1, 2, 77, 500, enc.ids.length - 1, ...keptAt.filter((_, j) => j % 25 === 0)]) {
      const row = Array.from(logp.subarray((t - 1) * V, t * V));
      const order = row.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]);
      if (kept[t]) {
        expect(tops.slice(3 * t, 3 * t + 3)).toEqual(order.slice(0, 3).map(([, j]) => j));
        order.slice(0, 3).forEach(([v], k) => expect(Math.abs(topProbs[3 * t + k]! / Math.exp(v) - 1)).toBeLessThan(LOG_REL_ERROR));
      } else {
        expect(tops.slice(3 * t, 3 * t + 3)).toEqual([-1, -1, -1]);
      }
      const rank = row.filter((v) => v > row[enc.ids[t]!]!).length;
      if (rank < RANK_EXACT_BELOW) expect(ranks[t]).toBe(rank);
      else expect(Math.abs(ranks[t]! / rank - 1)).toBeLessThanOrEqual(RANK_REL_ERROR);
    }

    // Memory signals per layer: finite for every token of a stored chunk, gates in range.
    for (const l of ps[0]!.layers.map((x) => x.layer)) {
      const grad = concat(ps, (p) => p.layers.find((x) => x.layer === l)!.grad);
      const stored = Math.floor(total / 8) * 8;
      expect(grad.slice(0, stored).every(Number.isFinite)).toBe(true);
      expect(grad.slice(stored).every(Number.isNaN)).toBe(true); // the last partial chunk is not stored
      const alpha = concat(ps, (p) => p.layers.find((x) => x.layer === l)!.alpha);
      expect(alpha).toHaveLength(stored / 8);
      expect(alpha.every((a) => a > 0 && a < 1)).toBe(true);
    }

    // The summary covers the text in buckets with the mean of the stored values.
    const summaries = (db.prepare(`SELECT summary FROM surprise_traces WHERE doc_id = ? ORDER BY piece`).all(docId) as Array<{ summary: Buffer }>).flatMap((r) => decodeSummary(r.summary));
    expect(summaries).toHaveLength(ps.reduce((n, p) => n + Math.ceil(p.offsets.length / SUMMARY_BUCKET), 0));
    expect(summaries[0]!.startChar).toBe(0);
    expect(summaries.at(-1)!.endChar).toBe(text.length);
    const firstBucket = stored.slice(1, SUMMARY_BUCKET);
    expect(summaries[0]!.layers).toHaveLength(2);
    const g0 = concat(ps, (p) => p.layers[0]!.grad).slice(0, SUMMARY_BUCKET);
    expect(summaries[0]!.layers[0]!.gradMean).toBeCloseTo(g0.reduce((a, b) => a + b, 0) / g0.length, 2);
    const a0 = concat(ps, (p) => p.layers[0]!.alpha).slice(0, SUMMARY_BUCKET / 8);
    expect(summaries[0]!.layers[0]!.alpha).toBeCloseTo(a0.reduce((a, b) => a + b, 0) / a0.length, 2);
    expect(summaries[0]!.lmMean).toBeCloseTo(firstBucket.reduce((a, b) => a + b, 0) / firstBucket.length, 2); // summary from float32, trace in float16

    const row = db.prepare(`SELECT status, tokens_done AS done, checkpoint FROM readings WHERE doc_id = ?`).get(docId) as { status: string; done: number; checkpoint: Buffer | null };
    expect(row).toMatchObject({ status: 'done', done: total, checkpoint: null });
    expect(memoryState(docId).meta).toMatchObject({ pos: total });
  });

  it('pauses with a checkpoint and resumes to the memory and trace of an uninterrupted read', async () => {
    // the same file in a second library, read in three sessions
    const db2 = openDatabase(path.join(dir, 'second.sqlite'));
    try {
      const m2 = loadReaderModel(db2, dir, path.join(dir, 'tiny.trd'));
      expect(m2.info.id).toBe(m.info.id);
      m2.model.dispose();
      const doc2 = (await importFile(db2, path.join(dir, 'tiny.txt'))).document.id;
      const read2 = (extra: Partial<Parameters<typeof readDocument>[0]>) =>
        readDocument({ db: db2, docId: doc2, modelId: m.info.id, model: m.model, tokenizer: m.tokenizer, backend: 'wasm', stepTokens: 64, checkpointTokens: 256, fast: false, ...extra });
      let steps = 0;
      const first = await read2({ shouldStop: () => ++steps > 5 });
      expect(first).toMatchObject({ outcome: 'paused', tokensDone: 5 * 64 });
      const row = db2.prepare(`SELECT status, tokens_done AS done, checkpoint FROM readings WHERE doc_id = ?`).get(doc2) as { status: string; done: number; checkpoint: Buffer | null };
      expect(row).toMatchObject({ status: 'paused', done: 5 * 64 });
      expect(row.checkpoint).not.toBeNull();
      steps = 0;
      expect((await read2({ shouldStop: () => ++steps > 3 })).outcome).toBe('paused');
      expect((await read2({})).outcome).toBe('done');

      const full = memoryState(docId);
      const resumed = decodeCheckpoint(db2.prepare(`SELECT state FROM memory_states WHERE doc_id = ?`).pluck().get(doc2) as Buffer);
      expect(resumed.tensors.map((t) => t.name)).toEqual(full.tensors.map((t) => t.name));
      for (const t of full.tensors) {
        const other = resumed.tensors.find((x) => x.name === t.name)!;
        expect(compare(other.data, t.data).rel, t.name).toBeLessThan(1e-5);
      }
      const p2 = (db2.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? ORDER BY piece`).all(doc2) as Array<{ data: Buffer }>).map((r) => decodeTracePiece(r.data));
      const p1 = pieces(docId);
      expect(concat(p2, (p) => p.offsets)).toEqual(concat(p1, (p) => p.offsets));
      expect(compare(concat(p2, (p) => p.surprisal).slice(1), concat(p1, (p) => p.surprisal).slice(1)).maxAbs).toBeLessThan(1e-2);
      const g = (ps: TracePiece[]) => concat(ps, (p) => p.layers[1]!.grad).filter(Number.isFinite);
      expect(compare(g(p2), g(p1)).rel).toBeLessThan(1e-2);
    } finally {
      db2.close();
    }
  });

  it('deleting the document removes its reading, memory and traces', () => {
    expect(deleteDocument(db, docId)).toBe(true);
    for (const table of ['readings', 'memory_states', 'surprise_traces']) {
      expect(db.prepare(`SELECT count(*) FROM ${table} WHERE doc_id = ?`).pluck().get(docId)).toBe(0);
    }
  });
});
