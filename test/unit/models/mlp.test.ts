// tfjs memory MLP and explicit inner gradient (models/memory/mlp.ts) vs the float64 reference.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, memParamNames, paramShapes } from '../../../models/memory/config.js';
import { memChunkGrads, memForward } from '../../../models/memory/mlp.js';
import { flatW64, headW0, memForward64, memGrad64 } from '../../oracles/memory64.js';
import { compare, randomParams, rng, useBackend } from '../../helpers/models.js';

for (const backend of ['cpu', 'wasm']) {
  describe(`memory MLP on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    for (const [depth, normResidual] of [
      [1, true],
      [2, true],
      [3, true],
      [2, false],
    ] as const) {
      it(`forward and explicit chunk gradients match float64, depth ${depth}, normResidual ${normResidual}`, () => {
        const H = 2;
        const c = defaultConfig({ dim: 8, heads: H, dimHead: 4, mode: 'reference', chunkSize: 3, depth, normResidual, expansion: 4 });
        const p = randomParams(c, 100 + depth);
        const r = rng(7 + depth);
        if (normResidual) for (let i = 0; i < p.memGamma!.length; i++) p.memGamma![i] = 0.5 * r.normal();
        const m = 2; // two chunks sharing the same gradient weights
        const b = c.chunkSize;
        const n = m * b;
        const dh = c.dimHead;
        const K = Float64Array.from({ length: H * n * dh }, () => r.normal());
        const V = Float64Array.from({ length: H * n * dh }, () => r.normal());
        const theta = Float64Array.from({ length: H * n }, () => r.uniform());
        const shapes = paramShapes(c);
        const names = memParamNames(c);
        const res = tf.tidy(() => {
          const w = names.map((k) => tf.tensor(Float32Array.from(p[k]!), shapes[k]));
          const Kt = tf.tensor(Float32Array.from(K), [H, n, dh]);
          const f = memForward(c, w, Kt);
          const g = memChunkGrads(c, w, Kt, tf.tensor(Float32Array.from(V), [H, n, dh]), tf.tensor(Float32Array.from(theta), [H, n]), m, b, true);
          return { P: f.P, grads: g.grads, loss: g.loss, norms: g.tokenGradNorms! };
        });
        const P = res.P.dataSync();
        const grads = res.grads.map((t) => t.dataSync());
        const loss = res.loss.dataSync();
        const norms = res.norms.map((t) => t.dataSync());
        tf.dispose([res.P, ...res.grads, res.loss, ...res.norms]);
        for (let h = 0; h < H; h++) {
          const w = headW0(c, p, h);
          const Kh = K.slice(h * n * dh, (h + 1) * n * dh);
          const Vh = V.slice(h * n * dh, (h + 1) * n * dh);
          const f = memForward64(c, w, Kh, n);
          expect(compare(P.slice(h * n * dh, (h + 1) * n * dh), f.P).rel).toBeLessThan(2e-6);
          for (let j = 0; j < m; j++) {
            const sl = (A: Float64Array) => A.slice(j * b * dh, (j + 1) * b * dh);
            const g = memGrad64(c, w, sl(Kh), sl(Vh), theta.slice(h * n + j * b, h * n + (j + 1) * b), b);
            flatW64(g.grad).forEach((ref, ti) => {
              const per = ref.length;
              const got = grads[ti]!.slice((h * m + j) * per, (h * m + j + 1) * per); // [H, m, ...]
              expect(compare(got, ref).rel).toBeLessThan(5e-6);
            });
            expect(compare(loss.slice(h * n + j * b, h * n + (j + 1) * b), g.loss).rel).toBeLessThan(2e-6);
            g.tokenGradNorms.forEach((ref, ti) => {
              expect(compare(norms[ti]!.slice(h * n + j * b, h * n + (j + 1) * b), ref).rel).toBeLessThan(5e-6);
            });
          }
        }
      });
    }
  });
}
