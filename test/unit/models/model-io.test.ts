// A model and a document's memory survive the disk exactly: config, tokenizer, every parameter,
// and a state from which reading continues as if it never stopped.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../../models/checkpoint/format.js';
import { modelConfig, type Architecture } from '../../../models/model/config.js';
import { modelFromCheckpoint, modelToCheckpoint, stateFromCheckpoint, stateToCheckpoint } from '../../../models/model/io.js';
import { disposeModelState, TitansModel } from '../../../models/model/model.js';
import { trainBpe } from '../../../models/tokenizer/index.js';
import { compare, useBackend } from '../../helpers/models.js';

beforeAll(async () => {
  await useBackend();
});

const config = (arch: Architecture) => modelConfig({ arch, dim: 32, layers: 2, heads: 2, segment: 8, window: 6, vocabSize: 300, memory: { chunkSize: 4 } });
const ids = (xs: number[]) => tf.tensor2d([xs], [1, xs.length], 'int32');

describe('model checkpoint', () => {
  it('round-trips config, tokenizer and every parameter bit for bit', () => {
    const tokenizer = trainBpe(['the cat sat on the mat, the cat sat on the hat'], 20);
    const model = new TitansModel(modelConfig({ ...config('mac'), vocabSize: tokenizer.vocabSize }), { seed: 3 });
    const bytes = encodeCheckpoint(modelToCheckpoint(model, tokenizer.spec, { name: 'test' }));
    const { model: copy, tokenizer: tok, meta } = modelFromCheckpoint(decodeCheckpoint(bytes));
    expect(meta.name).toBe('test');
    expect(copy.config).toEqual(model.config);
    expect(Array.from(tok.encode('the cat sat').ids)).toEqual(Array.from(tokenizer.encode('the cat sat').ids));
    for (const [name, v] of Object.entries(model.params.all)) {
      expect(Array.from(copy.params.all[name]!.dataSync()), name).toEqual(Array.from(v.dataSync()));
    }
    const x = ids([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const a = model.forward(x);
    const b = copy.forward(x);
    expect(compare(a.logits.dataSync(), b.logits.dataSync()).maxAbs).toBe(0);
    for (const r of [a, b]) {
      r.logits.dispose();
      disposeModelState(r.state);
    }
    x.dispose();
    model.dispose();
    copy.dispose();
  });

  it('refuses a checkpoint that is not a model, or misses a parameter', () => {
    const model = new TitansModel(config('mag'), { seed: 1 });
    const c = modelToCheckpoint(model, { kind: 'byte' });
    expect(() => modelFromCheckpoint({ ...c, tensors: c.tensors.slice(1) })).toThrow(/missing from the checkpoint/);
    expect(() => modelFromCheckpoint({ ...c, kind: 'optimizer' })).toThrow(/expected a model checkpoint/);
    model.dispose();
  });
});

describe.each(['mac', 'mag', 'lmm'] as Architecture[])('%s memory state', (arch) => {
  it('saved mid-segment and reloaded, reading continues exactly', () => {
    const model = new TitansModel(config(arch), { seed: 2 });
    const first = [5, 9, 2, 7, 1, 3, 3, 8, 6, 4, 2]; // ends mid-segment and mid-chunk
    const rest = [1, 1, 5, 2, 9, 8, 7, 6, 5];
    const whole = model.forward(ids([...first, ...rest]));
    const r1 = model.forward(ids(first));
    const saved = encodeCheckpoint(stateToCheckpoint(r1.state, { document: 7 }));
    disposeModelState(r1.state);
    r1.logits.dispose();
    const restored = stateFromCheckpoint(decodeCheckpoint(saved));
    expect(restored.pos).toBe(first.length);
    const r2 = model.forward(ids(rest), restored);
    const tail = tf.slice(whole.logits, [0, first.length, 0], [1, rest.length, 300]);
    expect(compare(r2.logits.dataSync(), tail.dataSync()).maxAbs).toBeLessThan(1e-5);
    tf.dispose([tail, r2.logits, whole.logits]);
    disposeModelState(r2.state);
    disposeModelState(restored);
    disposeModelState(whole.state);
    model.dispose();
  });
});
