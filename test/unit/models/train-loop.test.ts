import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointFileSync } from '../../../models/checkpoint/format.js';
import { Rng, WindowSampler, evaluationBatches, splitDocuments } from '../../../models/train/data.js';
import { learningRate } from '../../../models/train/optimizer.js';
import { type StepMetrics, train } from '../../../models/train/trainer.js';

const V = 16;
const H = 24;
const T = 16;
const B = 8;

/** documents from a noisy Markov chain: next = (5 * cur + 3) mod V, or a random token w.p. 0.1 */
function markovDocs(seed: number, n: number, len: number): Int32Array[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, (_, d) => {
    const out = new Int32Array(len + d * 37);
    out[0] = r.int(V);
    for (let i = 1; i < out.length; i++) out[i] = r.uniform() < 0.1 ? r.int(V) : (5 * out[i - 1]! + 3) % V;
    return out;
  });
}

function makeParams(seed: number): Record<string, tf.Variable> {
  return tf.tidy(() => ({
    w1: tf.variable(tf.randomNormal([V, H], 0, 0.3, 'float32', seed)),
    b1: tf.variable(tf.zeros([H])),
    w2: tf.variable(tf.randomNormal([H, V], 0, 0.3, 'float32', seed + 1)),
    b2: tf.variable(tf.zeros([V])),
  }));
}

/** 2-layer MLP next-token loss on windows [b, T+1] */
function mlpLoss(p: Record<string, tf.Variable>, tokens: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, w] = tokens.shape;
    const x = tf.reshape(tf.slice(tokens, [0, 0], [b, w - 1]), [-1]) as tf.Tensor1D;
    const y = tf.reshape(tf.slice(tokens, [0, 1], [b, w - 1]), [-1]) as tf.Tensor1D;
    const h = tf.tanh(tf.add(tf.matMul(tf.cast(tf.oneHot(x, V), 'float32'), p.w1!), p.b1!));
    const logits = tf.add(tf.matMul(h, p.w2!), p.b2!);
    const ll = tf.sum(tf.mul(tf.cast(tf.oneHot(y, V), 'float32'), tf.logSoftmax(logits)), -1);
    return tf.neg(tf.mean(ll)) as tf.Scalar;
  });
}

function snapshot(p: Record<string, tf.Variable>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()]));
}

const disposeAll = (p: Record<string, tf.Variable>) => tf.dispose(Object.values(p));

describe('training loop', () => {
  let dir = '';
  const docs = markovDocs(1, 6, 600);
  const split = splitDocuments(docs, { by: 'tail', fraction: 0.2 });
  const heldOut = evaluationBatches(split.heldOut, T, 16);

  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'titans-train-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const evalLoss = (p: Record<string, tf.Variable>) => () =>
    tf.tidy(() => {
      let sum = 0;
      let n = 0;
      for (const b of heldOut) {
        const t = tf.tensor2d(b.tokens, b.shape, 'int32');
        sum += mlpLoss(p, t).dataSync()[0]! * b.shape[0];
        n += b.shape[0];
      }
      return sum / n;
    });

  const common = (p: Record<string, tf.Variable>, sampler: WindowSampler) => ({
    params: p,
    loss: (batch: tf.Tensor2D) => mlpLoss(p, batch),
    nextBatch: () => sampler.nextTensor(),
    sampler,
    schedule: { peakLr: 0.03, warmupSteps: 5, minLrRatio: 0.1 },
    clip: 0.3,
    weightDecay: 0.1,
    tokensPerBatch: B * T,
  });

  it('lowers the held-out loss of a tiny MLP; metrics are consistent', async () => {
    const p = makeParams(11);
    const sampler = new WindowSampler({ docs: split.train, batchSize: B, seqLen: T, seed: 3 });
    const initial = evalLoss(p)();
    const metrics: StepMetrics[] = [];
    const r = await train({ ...common(p, sampler), steps: 120, evalEvery: 40, evalLoss: evalLoss(p), onStep: (m) => metrics.push(m) });
    expect(r.step).toBe(120);
    expect(r.aborted).toBe(false);
    expect(r.evals.map((e) => e.step)).toEqual([40, 80, 120]);
    const final = r.evals[2]!.loss;
    expect(initial).toBeGreaterThan(2.5); // about ln 16
    expect(final).toBeLessThan(0.6 * initial);
    expect(final).toBeLessThan(r.evals[0]!.loss);
    metrics.forEach((m, i) => {
      expect(m.step).toBe(i + 1);
      expect(m.lr).toBe(learningRate(i, { peakLr: 0.03, warmupSteps: 5, minLrRatio: 0.1, totalSteps: 120 }));
      expect(m.gradNorm).toBeGreaterThan(0);
      expect(Number.isFinite(m.loss)).toBe(true);
    });
    expect(metrics[119]!.etaMs).toBe(0);
    expect(metrics[119]!.tokensPerSecond).toBeGreaterThan(0);
    expect(metrics[60]!.elapsedMs).toBeGreaterThan(metrics[10]!.elapsedMs);
    expect(metrics.some((m) => m.gradNorm > 0.3)).toBe(true); // clipping (0.3) was active
    console.log(`tiny MLP: held-out ${initial.toFixed(3)} -> ${final.toFixed(3)}, ${r.msPerStep.toFixed(2)} ms/step`);
    disposeAll(p);
  });

  for (const onAbort of [true, false]) {
    it(`interrupt and resume equals an uninterrupted run (${onAbort ? 'saved on abort' : 'last periodic checkpoint'})`, async () => {
      const steps = 40;
      const pa = makeParams(5);
      const sa = new WindowSampler({ docs: split.train, batchSize: B, seqLen: T, seed: 21 });
      const full = await train({ ...common(pa, sa), steps });
      const want = snapshot(pa);

      const path = join(dir, `resume-${onAbort}.ckpt`);
      const pb = makeParams(5);
      const sb = new WindowSampler({ docs: split.train, batchSize: B, seqLen: T, seed: 21 });
      const ctl = new AbortController();
      const first = await train({
        ...common(pb, sb),
        steps,
        checkpointPath: path,
        checkpointEvery: 5,
        checkpointOnAbort: onAbort,
        signal: ctl.signal,
        config: { model: 'mlp', V, H },
        tokenizer: { kind: 'byte' },
        onStep: (m) => {
          if (m.step === 17) ctl.abort();
        },
      });
      expect(first.aborted).toBe(true);
      expect(first.step).toBe(17);
      expect(first.losses).toEqual(full.losses.slice(0, 17));
      const saved = onAbort ? 17 : 15;
      const ck = readCheckpointFileSync(path);
      expect(ck.kind).toBe('model');
      expect(ck.config).toEqual({ model: 'mlp', V, H });
      expect(ck.tokenizer).toEqual({ kind: 'byte' });
      expect((ck.meta as { training: { step: number } }).training.step).toBe(saved);
      expect(ck.tensors.map((t) => t.name).sort()).toEqual(
        ['b1', 'b2', 'w1', 'w2', ...['b1', 'b2', 'w1', 'w2'].flatMap((k) => [`optimizer/m/${k}`, `optimizer/v/${k}`])].sort(),
      );
      disposeAll(pb);

      // a fresh process: other initial weights, another sampler seed; everything comes from the file
      const pc = makeParams(99);
      const sc = new WindowSampler({ docs: split.train, batchSize: B, seqLen: T, seed: 777 });
      const second = await train({ ...common(pc, sc), steps, checkpointPath: path, checkpointEvery: 5 });
      expect(second.startStep).toBe(saved);
      expect(second.step).toBe(steps);
      expect(second.losses.length).toBe(steps - saved);
      second.losses.forEach((l, i) => expect(Math.abs(l - full.losses[saved + i]!)).toBeLessThan(1e-6));
      const got = snapshot(pc);
      for (const k of Object.keys(want)) {
        const d = want[k]!.reduce((m, x, i) => Math.max(m, Math.abs(x - got[k]![i]!)), 0);
        expect(d, k).toBeLessThan(1e-6);
      }
      // the run that finished wrote its final state: resuming again does nothing
      const third = await train({ ...common(pc, sc), steps, checkpointPath: path });
      expect(third.losses).toEqual([]);
      disposeAll(pa);
      disposeAll(pc);
    });
  }

  it('no tensor leaks: the count after step 10 equals the count after step 200, and after train()', async () => {
    const p = makeParams(2);
    const sampler = new WindowSampler({ docs: split.train, batchSize: B, seqLen: T, seed: 4 });
    const counts = new Map<number, number>();
    const before = tf.memory().numTensors;
    const path = join(dir, 'leak.ckpt');
    await train({
      ...common(p, sampler),
      steps: 200,
      evalEvery: 50,
      evalLoss: evalLoss(p),
      checkpointPath: path,
      checkpointEvery: 60,
      onStep: (m) => counts.set(m.step, tf.memory().numTensors),
    });
    expect(counts.get(10)).toBe(counts.get(200));
    expect(counts.get(49)).toBe(counts.get(150)); // around evaluations and checkpoints too
    expect(tf.memory().numTensors).toBe(before);
    expect(existsSync(path)).toBe(true);
    disposeAll(p);
  });

  it('an abort from outside (timer) stops the loop between steps and leaves a valid checkpoint', async () => {
    const p = makeParams(3);
    const sampler = new WindowSampler({ docs: split.train, batchSize: B, seqLen: T, seed: 4 });
    const path = join(dir, 'timer.ckpt');
    const ctl = new AbortController();
    let saves = 0;
    setTimeout(() => ctl.abort(), 30);
    const r = await train({
      ...common(p, sampler),
      steps: 1_000_000,
      checkpointPath: path,
      checkpointEvery: { seconds: 0.01 },
      signal: ctl.signal,
      onCheckpoint: () => saves++,
    });
    expect(r.aborted).toBe(true);
    expect(r.step).toBeGreaterThan(0);
    expect(r.step).toBeLessThan(1_000_000);
    expect(saves).toBeGreaterThan(0);
    const ck = readCheckpointFileSync(path);
    expect((ck.meta as { training: { step: number } }).training.step).toBe(r.step);
    disposeAll(p);
  });

  it('a non-finite loss stops training with a clear error (default) or skips the update', async () => {
    const p = { w: tf.tidy(() => tf.variable(tf.tensor1d([1, 2]))) };
    const loss = (_: null, step: number) =>
      tf.tidy(() => {
        const l = tf.sum(tf.square(p.w));
        return (step === 3 ? tf.mul(l, NaN) : l) as tf.Scalar;
      });
    const seen: Float32Array[] = [];
    const before = tf.memory().numTensors;
    const base = { params: p, loss, nextBatch: () => null, steps: 6, schedule: { peakLr: 0.1 }, weightDecay: 0 };
    await expect(train({ ...base, onStep: () => seen.push((p.w.dataSync() as Float32Array).slice()) })).rejects.toThrow(
      /non-finite loss at step 4; parameters are left as after step 3/,
    );
    expect(seen.length).toBe(3);
    expect(p.w.dataSync()).toEqual(seen[2]);
    expect(tf.memory().numTensors).toBe(before);
    const r = await train({ ...base, nonFinite: 'skip' });
    expect(r.skipped).toEqual([4]);
    expect(r.step).toBe(6);
    expect(Number.isNaN(r.losses[3])).toBe(true);
    expect(Array.from(p.w.dataSync()).every(Number.isFinite)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    p.w.dispose();
  });

  it('measures the loop overhead on a trivial loss', async () => {
    const p = { w: tf.variable(tf.zeros([4])) };
    const r = await train({
      params: p,
      loss: () => tf.sum(tf.square(tf.sub(p.w, 1))) as tf.Scalar,
      nextBatch: () => null,
      steps: 300,
      schedule: { peakLr: 0.1 },
      weightDecay: 0,
      evalEvery: 100,
      evalLossAsync: async () => 42,
    });
    expect(r.evals).toEqual([100, 200, 300].map((step) => ({ step, loss: 42 })));
    expect(Array.from(p.w.dataSync()).every((x) => Math.abs(x - 1) < 0.2)).toBe(true);
    console.log(`loop overhead (1 tiny parameter, cpu backend): ${(r.msPerStep * 1000).toFixed(0)} us/step`);
    p.w.dispose();
  });
});
