import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, WindowSampler, evaluationBatches, splitDocuments } from '../../../models/train/data.js';

const doc = (n: number, base: number) => Int32Array.from({ length: n }, (_, i) => base + i);

describe('Rng', () => {
  it('is deterministic, resumable from its state, and roughly uniform', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(new Rng(43).nextUint32()).not.toBe(xs[0]);
    const state = a.getState();
    const next = Array.from({ length: 10 }, () => a.uniform());
    const c = new Rng(state);
    expect(Array.from({ length: 10 }, () => c.uniform())).toEqual(next);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70000; i++) counts[a.int(7)]++;
    for (const k of counts) expect(Math.abs(k - 10000)).toBeLessThan(500);
    expect(() => c.setState([1, 2, 3])).toThrow();
  });
});

describe('WindowSampler', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('builds [B, T+1] windows of consecutive tokens, mixing documents, deterministic per seed', () => {
    const docs = [doc(100, 0), doc(300, 1000), doc(5, 5000) /* too short */, doc(50, 9000)];
    const s = new WindowSampler({ docs, batchSize: 6, seqLen: 8, seed: 1 });
    const b = s.next();
    expect(b.shape).toEqual([6, 9]);
    for (let r = 0; r < 6; r++) {
      const row = b.tokens.subarray(r * 9, r * 9 + 9);
      const w = b.windows[r]!;
      expect(row[0]).toBe(docs[w.doc]![w.start]);
      for (let i = 1; i < 9; i++) expect(row[i]).toBe(row[i - 1]! + 1);
      expect(w.doc).not.toBe(2);
    }
    const s2 = new WindowSampler({ docs, batchSize: 6, seqLen: 8, seed: 1 });
    expect(s2.next().tokens).toEqual(b.tokens);
    const s3 = new WindowSampler({ docs, batchSize: 6, seqLen: 8, seed: 2 });
    expect(s3.next().tokens).not.toEqual(b.tokens);
    const t = s.nextTensor();
    expect(t.shape).toEqual([6, 9]);
    expect(t.dtype).toBe('int32');
    t.dispose();
  });

  it('proportional: documents drawn in proportion to their windows; every start reachable', () => {
    const docs = [doc(108, 0), doc(308, 1000), doc(608, 2000)]; // 100, 300, 600 windows of T = 8
    const s = new WindowSampler({ docs, batchSize: 50, seqLen: 8, seed: 3 });
    const counts = [0, 0, 0];
    const starts = new Set<number>();
    for (let i = 0; i < 200; i++) {
      for (const w of s.next().windows) {
        counts[w.doc]!++;
        if (w.doc === 0) starts.add(w.start);
        if (w.start + 9 > docs[w.doc]!.length) throw new Error(`window past the end: ${JSON.stringify(w)}`);
      }
    }
    expect(counts[0]! / 10000).toBeCloseTo(0.1, 1);
    expect(counts[1]! / 10000).toBeCloseTo(0.3, 1);
    expect(counts[2]! / 10000).toBeCloseTo(0.6, 1);
    expect(starts.size).toBe(100); // starts 0..99
  });

  it('round-robin: documents in turn', () => {
    const docs = [doc(20, 0), doc(3, 100), doc(40, 200), doc(30, 300)];
    const s = new WindowSampler({ docs, batchSize: 4, seqLen: 4, seed: 3, choice: 'round-robin' });
    expect(s.next().windows.map((w) => w.doc)).toEqual([0, 2, 3, 0]);
    expect(s.next().windows.map((w) => w.doc)).toEqual([2, 3, 0, 2]);
  });

  it('state round-trips through JSON: the resumed sampler continues identically', () => {
    for (const choice of ['proportional', 'round-robin'] as const) {
      const docs = [doc(200, 0), doc(77, 1000), doc(500, 5000)];
      const a = new WindowSampler({ docs, batchSize: 3, seqLen: 16, seed: 9, choice });
      for (let i = 0; i < 5; i++) a.next();
      const state = JSON.parse(JSON.stringify(a.getState()));
      const b = new WindowSampler({ docs, batchSize: 3, seqLen: 16, seed: 12345, choice });
      b.setState(state);
      for (let i = 0; i < 5; i++) expect(b.next().tokens).toEqual(a.next().tokens);
    }
  });
});

describe('held-out splits', () => {
  it('tail split: training windows never reach a held-out token', () => {
    const docs = [doc(1000, 0), doc(400, 10000), doc(50, 20000)];
    const sp = splitDocuments(docs, { by: 'tail', fraction: 0.2 });
    expect(sp.trainSpans).toEqual([
      { doc: 0, start: 0, end: 800 },
      { doc: 1, start: 0, end: 320 },
      { doc: 2, start: 0, end: 40 },
    ]);
    expect(sp.heldOutSpans.map((s) => [s.start, s.end])).toEqual([[800, 1000], [320, 400], [40, 50]]);
    const held = new Set(sp.heldOut.flatMap((d) => Array.from(d)));
    const s = new WindowSampler({ docs: sp.train, batchSize: 16, seqLen: 32, seed: 5 });
    let leaked = 0;
    for (let i = 0; i < 100; i++) for (const t of s.next().tokens) if (held.has(t)) leaked++;
    expect(leaked).toBe(0);
    // and the union is the whole corpus
    expect(sp.train.reduce((a, d) => a + d.length, 0) + held.size).toBe(1450);
  });

  it('document split: whole documents, disjoint, about the asked fraction, seeded', () => {
    const docs = Array.from({ length: 20 }, (_, i) => doc(100, i * 1000));
    const sp = splitDocuments(docs, { by: 'document', fraction: 0.25, seed: 7 });
    expect(sp.heldOut.length).toBe(5);
    expect(sp.train.length).toBe(15);
    const heldDocs = new Set(sp.heldOutSpans.map((s) => s.doc));
    for (const s of sp.trainSpans) expect(heldDocs.has(s.doc)).toBe(false);
    expect(splitDocuments(docs, { by: 'document', fraction: 0.25, seed: 7 }).heldOutSpans).toEqual(sp.heldOutSpans);
    expect(splitDocuments(docs, { by: 'document', fraction: 0.25, seed: 8 }).heldOutSpans).not.toEqual(sp.heldOutSpans);
    // never everything held out
    expect(splitDocuments([doc(10, 0), doc(10, 100)], { by: 'document', fraction: 0.9 }).train.length).toBe(1);
  });

  it('evaluation batches cover each document once in consecutive windows', () => {
    const docs = [doc(25, 0), doc(9, 100)];
    const bs = evaluationBatches(docs, 8, 2);
    const windows = bs.flatMap((b) => b.windows);
    expect(windows).toEqual([
      { doc: 0, start: 0 },
      { doc: 0, start: 8 },
      { doc: 0, start: 16 },
      { doc: 1, start: 0 },
    ]);
    expect(bs.map((b) => b.shape)).toEqual([[2, 9], [2, 9]]);
    expect(Array.from(bs[1]!.tokens.subarray(0, 9))).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24]);
    expect(evaluationBatches(docs, 8, 2, 3).flatMap((b) => b.windows).length).toBe(3);
  });
});
