// The app reads with onnxruntime's reading step (models/onnx/reading-step.ts) where it applies,
// and else with tfjs on the memory's inference path (models/memory/fast-update.ts, ReadOptions.fast).
// With the shipped default model, a reading by either must store the surprise and end in the memory
// of a reading by tfjs's general path (the one training uses) within float32 rounding, over
// thousands of tokens in which any error in the update would compound chunk after chunk; and a
// reading paused and resumed across the engines ends where an uninterrupted one does.
// (On an untrained model the two drift apart chaotically, float32 rounding amplified chunk by
// chunk; a trained memory is contractive, which is what this checks on the real weights.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { readDocument } from '../../../core/reading/read-document.js';
import { loadReaderModel, type LoadedReaderModel } from '../../../core/reading/reader-model.js';
import { OnnxReadingStep } from '../../../models/onnx/reading-step.js';
import { decodeTracePiece } from '../../../core/reading/trace.js';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { shippedModelFile, shippedReadingGraph } from '../../../models/default/default-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { compare, useBackend } from '../../helpers/models.js';

let dir: string;
let m: LoadedReaderModel;
let onnx: OnnxReadingStep;
const dbs: Db[] = [];
const text = makeBook({ chapters: 4, paragraphsPerChapter: 14, seed: 5, title: 'Fast and general' });

beforeAll(async () => {
  await useBackend('wasm'); // the backend the app reads with here
  dir = tempDir('titans-fast-');
  const setup = openDatabase(path.join(dir, 'setup.sqlite'));
  dbs.push(setup);
  m = loadReaderModel(setup, dir, shippedModelFile({})!);
  const r = await OnnxReadingStep.open(m.model, shippedReadingGraph()!, { threads: 2 });
  if (!r.step) throw new Error(r.reason);
  onnx = r.step;
});
afterAll(async () => {
  await onnx?.release();
  m.model.dispose();
  dbs.forEach((db) => db.close());
  fs.rmSync(dir, { recursive: true, force: true });
});

type Extra = Partial<Parameters<typeof readDocument>[0]>;
async function readWith(name: string, ...sessions: Extra[]) {
  const db = openDatabase(path.join(dir, `${name}.sqlite`));
  dbs.push(db);
  loadReaderModel(db, dir, shippedModelFile({})!).model.dispose(); // registers the model in this library
  const docId = (await importFile(db, writeFile(dir, 'book.txt', text))).document.id;
  let r;
  for (const extra of sessions) r = await readDocument({ db, docId, modelId: m.info.id, model: m.model, tokenizer: m.tokenizer, backend: 'wasm', checkpointTokens: 1024, ...extra });
  expect(r!.outcome).toBe('done');
  const pieces = (db.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? ORDER BY piece`).all(docId) as Array<{ data: Buffer }>).map((p) => decodeTracePiece(p.data));
  const state = decodeCheckpoint(db.prepare(`SELECT state FROM memory_states WHERE doc_id = ?`).pluck().get(docId) as Buffer);
  return { tokens: r!.tokensDone, surprisal: pieces.flatMap((p) => Array.from(p.surprisal)), state };
}

type Reading = Awaited<ReturnType<typeof readWith>>;
function expectSame(got: Reading, want: Reading) {
  expect(got.tokens).toBe(want.tokens);
  // surprisal in nats, stored in float16 (about 4e-3 at 8 nats)
  expect(compare(got.surprisal.slice(1), want.surprisal.slice(1)).maxAbs).toBeLessThan(2e-2);
  const mean = (a: number[]) => a.slice(1).reduce((s, x) => s + x, 0) / (a.length - 1);
  expect(Math.abs(mean(got.surprisal) - mean(want.surprisal))).toBeLessThan(1e-3);
  expect(got.state.tensors.map((t) => t.name)).toEqual(want.state.tensors.map((t) => t.name));
  for (const t of want.state.tensors) {
    const other = got.state.tensors.find((x) => x.name === t.name)!;
    expect(compare(other.data, t.data).rel, t.name).toBeLessThan(1e-3);
  }
}

describe('reading with the default model', () => {
  let general: Reading;
  it('tfjs\'s fast path stores the surprise and the memory of its general path', async () => {
    general = await readWith('general', { fast: false });
    expect(general.tokens).toBeGreaterThan(3000);
    expectSame(await readWith('fast', { fast: true }), general);
  }, 240_000);

  it('onnxruntime stores them too, read at once or paused and resumed between the engines', async () => {
    let calls = 0;
    const counting = {
      segment: onnx.segment,
      accepts: onnx.accepts.bind(onnx),
      fromModelState: onnx.fromModelState.bind(onnx),
      toModelState: onnx.toModelState.bind(onnx),
      step: (...a: Parameters<OnnxReadingStep['step']>) => (calls++, onnx.step(...a)),
    } as unknown as OnnxReadingStep;
    const once = await readWith('onnx', { onnx: counting });
    // every whole segment but the first (tfjs starts from no state) and the last partial step
    expect(calls).toBeGreaterThan(once.tokens / onnx.segment - 4);
    expectSame(once, general);
    // paused twice (checkpoints are tfjs states), the middle session on tfjs alone
    let steps = 0;
    const resumed = await readWith('onnx-resumed', { onnx, shouldStop: () => ++steps > 5 }, { shouldStop: () => ++steps > 12 }, { onnx });
    expect(steps).toBeGreaterThan(12);
    expectSame(resumed, general);
  }, 240_000);
});
