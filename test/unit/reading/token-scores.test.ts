// The per-token scores of the trace (surprisal, rank, top-k) against a float64 reference that
// sorts the row, and the cheap exp they use against Math.exp.
import { describe, expect, it } from 'vitest';
import { expShifted, scoreToken } from '../../../core/reading/token-scores.js';
import { TOP_K } from '../../../core/reading/trace.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

describe('expShifted', () => {
  it('equals Math.exp to 1e-9 relative over the range the logits take, and is 0 past underflow', () => {
    const rnd = lcg(3);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const d = -rnd() * (i % 2 ? 40 : 700);
      worst = Math.max(worst, Math.abs(expShifted(d) / Math.exp(d) - 1));
    }
    expect(worst).toBeLessThan(1e-9);
    expect(expShifted(0)).toBe(1);
    expect(expShifted(-1e6)).toBe(0);
  });
});

describe('scoreToken', () => {
  it('gives the surprisal, the rank and the top-k of a sorted float64 reference', () => {
    const rnd = lcg(11);
    const V = 8452;
    for (const scale of [0.5, 3, 12]) {
      const row = Float32Array.from({ length: V }, () => (rnd() + rnd() + rnd() - 1.5) * scale);
      row[17] = row[4000]!; // a tie: the lower index ranks first
      for (const target of [0, 17, 4000, V - 1, 1234]) {
        const got = scoreToken(row, target);
        const max = Math.max(...row);
        const logZ = max + Math.log(Array.from(row).reduce((a, v) => a + Math.exp(v - max), 0));
        const order = Array.from(row, (v, j) => [v, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
        expect(Math.abs(got.surprisal - (logZ - row[target]!))).toBeLessThan(1e-9);
        expect(got.rank).toBe(order.findIndex(([v]) => v === row[target]!));
        expect(got.top).toEqual(order.slice(0, TOP_K).map(([, j]) => j));
        got.topProb.forEach((p, k) => expect(Math.abs(p / Math.exp(order[k]![0] - logZ) - 1)).toBeLessThan(1e-9));
      }
    }
  });
});
