// The reading step on onnxruntime (models/onnx/reading-step.ts) computes what the tfjs model
// computes for a segment: logits, the memory state after it, and every surprise signal, on the
// shipped default model and its committed graph (models/default/reading-step.json), over several
// segments in a row with the state passed along; the state crosses between the engines unchanged.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { modelFromCheckpoint } from '../../../models/model/io.js';
import { disposeModelState, type ModelState, type TitansModel } from '../../../models/model/model.js';
import { modelConfig } from '../../../models/model/config.js';
import { OnnxReadingStep, type OnnxState } from '../../../models/onnx/reading-step.js';
import type { Tokenizer } from '../../../models/tokenizer/index.js';
import { makeBook } from '../../fixtures/texts.js';
import { compare, useBackend } from '../../helpers/models.js';

const root = path.resolve(import.meta.dirname, '../../..');
const sidecar = path.join(root, 'models/default/reading-step.json');
let model: TitansModel;
let tokenizer: Tokenizer;
let step: OnnxReadingStep;

beforeAll(async () => {
  await useBackend('wasm');
  const pin = JSON.parse(fs.readFileSync(path.join(root, 'models/default/model.json'), 'utf8')) as { file: string };
  ({ model, tokenizer } = modelFromCheckpoint(decodeCheckpoint(fs.readFileSync(path.join(root, 'models/default', pin.file)))));
  const r = await OnnxReadingStep.open(model, sidecar);
  if (!r.step) throw new Error(r.reason);
  step = r.step;
});
afterAll(async () => {
  await step?.release();
  model?.dispose();
});

describe('the onnxruntime reading step', () => {
  it('reads segment after segment as the tfjs model does: logits, memory, surprise', async () => {
    const S = step.segment;
    const text = makeBook({ chapters: 2, paragraphsPerChapter: 8, seed: 9, title: 'Engines' });
    const ids = tokenizer.encode(text).ids;
    expect(ids.length).toBeGreaterThan(6 * S);
    const segment = (k: number) => Int32Array.from(ids.subarray(k * S, (k + 1) * S));
    // tfjs reads the first segment (from no state), then both engines go on from the same state
    const first = tf.tensor2d(segment(0), [1, S], 'int32');
    const r0 = model.forward(first, null, { surprise: true });
    first.dispose();
    r0.logits.dispose();
    let tfState: ModelState = r0.state;
    expect(step.accepts(tfState, S)).toBe(true);
    expect(step.accepts(tfState, S - 1)).toBe(false);
    let onnxState: OnnxState = step.fromModelState(tfState);
    let worstLogits = 0;
    for (let k = 1; k <= 5; k++) {
      const input = tf.tensor2d(segment(k), [1, S], 'int32');
      const r = model.forward(input, tfState, { surprise: true });
      input.dispose();
      const o = await step.step(segment(k), onnxState);
      const logits = r.logits.dataSync() as Float32Array;
      r.logits.dispose();
      expect(o.logits.length).toBe(logits.length);
      worstLogits = Math.max(worstLogits, compare(o.logits, logits).maxAbs);
      for (const l of [0, 1]) {
        const a = o.surprise[l]![0]!;
        const b = r.surprise![l]![0]!;
        expect(r.surprise![l]).toHaveLength(1);
        expect({ start: a.start, length: a.length, memories: a.memories, firstChunk: a.firstChunk, chunks: a.chunks, tensorNames: a.tensorNames }).toEqual({
          start: b.start,
          length: b.length,
          memories: b.memories,
          firstChunk: b.firstChunk,
          chunks: b.chunks,
          tensorNames: b.tensorNames,
        });
        for (const key of ['loss', 'theta', 'eta', 'alpha', 'momentumNorm'] as const) expect(compare(a[key], b[key]).rel, `${key} layer ${l}`).toBeLessThan(1e-3);
        a.gradNorm.forEach((g, j) => expect(compare(g, b.gradNorm[j]!).rel).toBeLessThan(1e-3));
      }
      disposeModelState(tfState);
      tfState = r.state;
      onnxState = o.state;
      expect(onnxState.pos).toBe(tfState.pos);
    }
    expect(worstLogits).toBeLessThan(1e-2); // logits of size ~10, float32 in different orders
    // the state after five segments, back as a tfjs ModelState, against tfjs's own
    const back = step.toModelState(onnxState);
    try {
      expect(back.pos).toBe(tfState.pos);
      expect(step.accepts(back, S)).toBe(true);
      back.layers.forEach((l, i) => {
        const t = tfState.layers[i]!;
        l.mem!.weights.forEach((w, j) => expect(compare(w.dataSync(), t.mem!.weights[j]!.dataSync()).rel).toBeLessThan(1e-4));
        l.mem!.momentum.forEach((s, j) => expect(compare(s.dataSync(), t.mem!.momentum[j]!.dataSync()).rel).toBeLessThan(1e-4));
        expect(compare(l.mem!.carry!.dataSync(), t.mem!.carry!.dataSync()).rel).toBeLessThan(1e-4);
        expect(compare(l.queryContext!.dataSync(), t.queryContext!.dataSync()).rel).toBeLessThan(1e-4);
      });
    } finally {
      disposeModelState(back);
      disposeModelState(tfState);
    }
  }, 120_000);

  it('refuses a model of another shape, and a call off the segment grid', async () => {
    const other = new (model.constructor as typeof TitansModel)(modelConfig({ ...model.config, dim: 128, memory: { ...model.config.memory, dimHead: 32 } }), { seed: 1 });
    try {
      const r = await OnnxReadingStep.open(other, sidecar);
      expect(r.step).toBeNull();
      expect(r.step === null && r.reason).toMatch(/another shape/);
    } finally {
      other.dispose();
    }
    await expect(step.step(new Int32Array(step.segment), { pos: 5, tensors: new Map() })).rejects.toThrow(/segment boundary/);
  });
});
