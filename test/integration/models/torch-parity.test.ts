// PyTorch -> TypeScript parity: a model initialised and trained in PyTorch (train/torch), written
// as safetensors, imported with `titans-reader model import` (the same code path as models.import),
// reads a text here to the numbers PyTorch computed (test/fixtures/torch-parity/make-torch-fixtures.py
// wrote them, float32, reading in the app's steps of stepSize(model) tokens with the state carried).
//
// Compared: the tokenizer's ids; per token the surprisal -ln p(token | before); the last logits of
// every step; every memory call's surprise report (per-token loss, theta, ||grad_W l_t|| per
// fast-weight tensor, per-chunk eta, alpha, ||S_n||); the state after the last step. Then the app
// itself (importFile + readDocument on a real library) reads the same text as a document: the
// stored trace (surprisal kept as float16) and the saved memory state match PyTorch's too.
// Errors: max |ts - torch| / max |torch| per tensor (surprisal: max abs difference in nats).
// Measured on wasm (2-core x86): last logits <= 7.8e-7, surprisal <= 2.9e-6 nats, surprise signals
// <= 8.9e-5 (||grad_W l_t||), states <= 7.7e-5 (MAC, 75 chunk updates). That is float32 rounding
// through the chunk recurrence (PyTorch's own float32 state is 2.6e-5 from its float64 value).
// Tolerances are about 5-10x the measured errors (the trace's float16 surprisal: 0.01 nats).
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, readCheckpointFileSync, type Checkpoint } from '../../../models/checkpoint/format.js';
import { modelFromCheckpoint, stateToCheckpoint } from '../../../models/model/io.js';
import { disposeModelState, type ModelState } from '../../../models/model/model.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { readBlocks } from '../../../core/library/queries.js';
import { readDocument, stepSize } from '../../../core/reading/read-document.js';
import { loadReaderModel } from '../../../core/reading/reader-model.js';
import { decodeTracePiece } from '../../../core/reading/trace.js';
import { cli } from '../cli/run-cli.js';
import { tempDir, writeFile } from '../../fixtures/texts.js';
import { compare, useBackend } from '../../helpers/models.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/torch-parity');
const TOL_LOGITS = 3e-5;
const TOL_SURPRISAL = 5e-5; // nats
const TOL_SIGNAL = 5e-4;
const TOL_STATE = 5e-4;
const worst: Record<string, number> = {};
const note = (what: string, err: number) => (worst[what] = Math.max(worst[what] ?? 0, err));

let dir: string;
beforeAll(async () => {
  await useBackend('wasm'); // the backend the app reads with when there is no native one
  dir = tempDir('titans-torch-parity-');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.TITANS_PARITY_REPORT) console.log('worst errors, PyTorch -> TypeScript:', JSON.stringify(Object.fromEntries(Object.entries(worst).map(([k, v]) => [k, v.toExponential(1)]))));
});

const tensorOf = (c: Checkpoint, name: string) => {
  const t = c.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`fixture lacks ${name}`);
  return t.data;
};

/** the state's tensors against the fixture's `state/...` ones, and the same layout (meta) */
function expectState(state: ModelState, exp: Checkpoint, prefix: string): void {
  const meta = exp.meta as Record<string, { layers: unknown }>;
  const ours = stateToCheckpoint(state);
  expect((ours.meta as { layers: unknown }).layers).toEqual(meta.state!.layers);
  const theirs = exp.tensors.filter((t) => t.name.startsWith('state/'));
  expect(ours.tensors.map((t) => t.name).sort()).toEqual(theirs.map((t) => t.name.slice(6)).sort());
  for (const t of ours.tensors) {
    const { rel } = compare(t.data, tensorOf(exp, `state/${t.name}`));
    note(`${prefix} state`, rel);
    expect(rel, `state ${t.name}`).toBeLessThan(TOL_STATE);
  }
}

for (const name of ['mac', 'mag']) {
  describe(`a PyTorch-trained ${name.toUpperCase()} model in the app`, () => {
    const trd = () => path.join(dir, `${name}.trd`);
    const exp = decodeCheckpoint(fs.readFileSync(path.join(FIXTURES, `torch-${name}.expected.trd`)));
    const meta = exp.meta as Record<string, unknown> & { text: string; step: number; steps: number };

    it('imports with `titans-reader model import` and reads the text to the same numbers', async () => {
      const r = await cli('model', 'import', path.join(FIXTURES, `torch-${name}.model.safetensors`), trd());
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const { model, tokenizer, meta: modelMeta } = modelFromCheckpoint(readCheckpointFileSync(trd()));
      expect(modelMeta.importedFrom).toBe('safetensors');
      const ids = Array.from(tokenizer.encode(meta.text).ids);
      expect(ids).toEqual(Array.from(tensorOf(exp, 'ids')));
      const step = stepSize(model);
      expect(step).toBe(meta.step);
      const V = model.config.vocabSize;
      const surprisal: number[] = [NaN];
      let state: ModelState | null = null;
      let prevRow: Float32Array | null = null;
      let k = 0;
      for (let s = 0; s < ids.length; s += step, k++) {
        const piece = ids.slice(s, s + step);
        const x = tf.tensor2d([piece], [1, piece.length], 'int32');
        const out = model.forward(x, state, { surprise: true });
        const logits = out.logits.dataSync() as Float32Array;
        for (let t = 0; t < piece.length; t++) {
          const row = t > 0 ? logits.subarray((t - 1) * V, t * V) : prevRow;
          if (!row) continue;
          let max = -Infinity;
          for (const v of row) max = Math.max(max, v);
          let sum = 0;
          for (const v of row) sum += Math.exp(v - max);
          surprisal.push(Math.log(sum) + max - row[piece[t]!]!);
        }
        prevRow = logits.slice((piece.length - 1) * V);
        const lr = compare(prevRow, tensorOf(exp, `step${k}.lastLogits`)).rel;
        note('logits', lr);
        expect(lr).toBeLessThan(TOL_LOGITS);
        out.surprise!.forEach((calls, layer) =>
          calls.forEach((rep, m) => {
            const p = `step${k}.l${layer}.m${m}`;
            expect({ start: rep.start, length: rep.length, memories: rep.memories, firstChunk: rep.firstChunk, chunks: rep.chunks, tensorNames: rep.tensorNames }).toEqual(meta[p]);
            const signals: Record<string, Float32Array> = { loss: rep.loss, theta: rep.theta, eta: rep.eta, alpha: rep.alpha, momentumNorm: rep.momentumNorm };
            rep.gradNorm.forEach((g, j) => (signals[`gradNorm${j}`] = g));
            for (const [n, v] of Object.entries(signals)) {
              const { rel } = compare(v, tensorOf(exp, `${p}.${n}`));
              note(`surprise.${n}`, rel);
              expect(rel, `${p}.${n}`).toBeLessThan(TOL_SIGNAL);
            }
          }),
        );
        disposeModelState(state);
        state = out.state;
        tf.dispose([x, out.logits]);
      }
      expect(k).toBe(meta.steps);
      const want = Array.from(tensorOf(exp, 'surprisal'));
      const { maxAbs } = compare(surprisal.slice(1), want.slice(1));
      note('surprisal (nats)', maxAbs);
      expect(maxAbs).toBeLessThan(TOL_SURPRISAL);
      expectState(state!, exp, 'reading');
      disposeModelState(state);
      model.dispose();
    });

    it('the app reads it as a document: the stored trace and memory match PyTorch', async () => {
      let db: Db | null = null;
      try {
        db = openDatabase(path.join(dir, `${name}.sqlite`));
        const docId = (await importFile(db, writeFile(dir, `${name}.txt`, meta.text))).document.id;
        expect(readBlocks(db, docId, 0, 1000).map((b) => b.text).join('')).toBe(meta.text); // the same token ids
        const m = loadReaderModel(db, dir, trd());
        try {
          const r = await readDocument({ db, docId, modelId: m.info.id, model: m.model, tokenizer: m.tokenizer, backend: tf.getBackend() });
          const ids = tensorOf(exp, 'ids');
          expect(r).toMatchObject({ outcome: 'done', tokensDone: ids.length });
          const pieces = (db.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? AND model_id = ? ORDER BY piece`).all(docId, m.info.id) as Array<{ data: Buffer }>).map((p) => decodeTracePiece(p.data));
          const stored = pieces.flatMap((p) => Array.from(p.surprisal));
          expect(stored).toHaveLength(ids.length);
          const { maxAbs } = compare(stored.slice(1), Array.from(tensorOf(exp, 'surprisal')).slice(1));
          note('stored surprisal, float16 (nats)', maxAbs);
          expect(maxAbs).toBeLessThan(0.01);
          const saved = decodeCheckpoint(db.prepare(`SELECT state FROM memory_states WHERE doc_id = ? AND model_id = ?`).pluck().get(docId, m.info.id) as Buffer);
          const theirs = exp.tensors.filter((t) => t.name.startsWith('state/'));
          expect(saved.tensors.map((t) => t.name).sort()).toEqual(theirs.map((t) => t.name.slice(6)).sort());
          for (const t of saved.tensors) {
            const { rel } = compare(t.data, tensorOf(exp, `state/${t.name}`));
            note('saved memory state', rel);
            expect(rel, t.name).toBeLessThan(TOL_STATE);
          }
        } finally {
          m.model.dispose();
        }
      } finally {
        db?.close();
      }
    });
  });
}
