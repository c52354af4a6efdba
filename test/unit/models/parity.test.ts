// Parity of the tfjs module (float32) with titans-pytorch NeuralMemory (commit cc016eb, float64
// vectors in test/fixtures/titans-vectors, docs/titans.md section 5): retrieved outputs, state, per-token
// losses and learning rates, and the outer gradient of objective = sum(retrieved * probe) w.r.t.
// every parameter (second-order path through the explicit inner gradient).
//
// Errors are max |ours - torch| / max |torch| per tensor. Measured on cpu (float32): retrieved
// ~5e-7, losses <1e-6, states <2e-6, gradients 3e-7 .. 4.8e-6 (the largest on chunk1_batch8,
// 19 sequential updates). Vectors are single calls from position 0, so titans-pytorch's chunk
// alignment relative to the call start coincides with our absolute alignment.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { NeuralMemory, disposeState, serializeState } from '../../../models/memory/neural-memory.js';
import { batchRows, configFromTorch, flatten, gradsFromTorch, paramsFromTorch } from '../../oracles/torch-compat.js';
import { VECTOR_FILES, compare, loadVectors, toTensor, useBackend } from '../../helpers/models.js';

const TORCH_STATE_NAMES = ['norm.gamma', 'model.weights.0', 'model.weights.1'];

for (const backend of ['cpu', 'wasm']) {
  describe(`parity with titans-pytorch on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    for (const f of VECTOR_FILES) {
      it(`${f}: retrieved, state, per-token loss and lr, grad_of_objective`, () => {
        const v = loadVectors(f);
        const c = configFromTorch(v);
        const mem = new NeuralMemory(c, { init: paramsFromTorch(v, c) });
        const { rows, B, T } = batchRows(v.input);
        const x = toTensor(rows, T, c.dim);
        const r = mem.forward(x, null, { surprise: true });
        expect(compare(r.retrieved.dataSync(), flatten(v.retrieved)).rel).toBeLessThan(2e-6);
        // state: titans-pytorch weights = our gradWeights, last_update = weights, last_momentum = momentum
        const z = serializeState(r.state);
        expect(z.pos).toBe(T);
        expect(v.state.seq_index).toBe(Math.floor(T / c.chunkSize) * c.chunkSize); // torch: tokens stored
        TORCH_STATE_NAMES.forEach((n, i) => {
          expect(compare(z.gradWeights[i]!, flatten(v.state.weights[n]!.data)).rel).toBeLessThan(3e-6);
          expect(compare(z.weights[i]!, flatten(v.state.last_update[n]!.data)).rel).toBeLessThan(3e-6);
          expect(compare(z.momentum[i]!, flatten(v.state.last_momentum[n]!.data)).rel).toBeLessThan(3e-6);
        });
        // the unfinished chunk's raw inputs = titans-pytorch cache_store_segment
        const cache = flatten(v.state.cache_store_segment);
        if (cache.length === 0) expect(z.carry).toBeNull();
        else expect(compare(z.carry!.data, cache).rel).toBeLessThan(1e-7); // float32 rounding of the input
        // per-token loss and adaptive lr of the stored tokens, [b, h, n]
        expect(compare(r.surprise!.loss, flatten(v.store_loss_per_token)).rel).toBeLessThan(2e-6);
        expect(compare(r.surprise!.theta, flatten(v.adaptive_lr_per_token)).rel).toBeLessThan(1e-6);
        tf.dispose([x, r.retrieved]);
        disposeState(r.state);

        // outer gradients through the inner update
        const xt = toTensor(rows, T, c.dim);
        const probe = tf.tensor(Float32Array.from(flatten(v.probe)), [B, T, c.dim]);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mem.forward(xt).retrieved, probe)) as tf.Scalar);
        // the objective is a sum of ~100 terms that partly cancel: compare against the sum of |terms|
        const terms = flatten(v.retrieved).reduce((a, y, i) => a + Math.abs(y * flatten(v.probe)[i]!), 0);
        expect(Math.abs(value.dataSync()[0]! - v.objective) / terms).toBeLessThan(1e-6);
        const expected = gradsFromTorch(v);
        const names = Object.keys(mem.params);
        expect(Object.keys(expected).sort()).toEqual([...names].sort());
        for (const n of names) {
          const got = grads[mem.params[n]!.name]!.dataSync();
          expect(compare(got, expected[n]!).rel, `grad of ${n}`).toBeLessThan(1e-5);
        }
        tf.dispose([xt, probe, value, ...Object.values(grads)]);
        mem.dispose();
      });
    }
  });
}
