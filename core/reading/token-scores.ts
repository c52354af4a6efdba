// What the trace stores for each token from the row of logits that predicted it: the surprisal
// -ln softmax(row)[target], the number of tokens ranked above the target, and the TOP_K likeliest
// tokens with their probabilities. With an 8K vocabulary this scan was about a seventh of reading
// time, mostly Math.exp (~14 ns a call in V8 here) and a mispredicted branch per logit; this one is
// 2.3x faster and equal to ~1e-11 nats (issue 17; `npx tsx scripts/bench/score-tokens.ts`). Doing
// the scan on the backend instead (logSumExp, topk, a broadcast compare) was slower on wasm.
import { TOP_K } from './trace.js';

// exp(d) for d <= 0 as 2^(k/64) * exp(r), k = round(64 d / ln 2), |r| <= ln2 / 128: a cubic for
// exp(r) (truncation < 4e-11 relative) times 2^(k/64) from a table (70,401 float64, 550 KB; the
// part logits use, d > -50, is the last 37 KB).
const LOG2E_64 = 64 * Math.LOG2E;
const LN2_64 = Math.LN2 / 64;
const MIN_K = -64 * 1100; // 2^-1100 underflows to 0 in float64: every smaller term adds nothing
const POW2 = Float64Array.from({ length: -MIN_K + 1 }, (_, i) => 2 ** ((i + MIN_K) / 64));

/** exp(d) for d <= 0 (d > 0 is not needed: d = logit - max) */
export function expShifted(d: number): number {
  const k = Math.floor(d * LOG2E_64 + 0.5);
  if (k < MIN_K) return 0;
  const r = d - k * LN2_64;
  return (1 + r * (1 + r * (1 / 2 + r * (1 / 6)))) * POW2[k - MIN_K]!;
}

/** Scores of one token from the row of logits before it. */
export function scoreToken(row: Float32Array, target: number): { surprisal: number; rank: number; top: number[]; topProb: number[] } {
  const V = row.length;
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (row[j]! > max) max = row[j]!;
  let sum = 0;
  for (let j = 0; j < V; j++) {
    // expShifted(row[j] - max), inlined: V8 does not inline it into this loop by itself
    const d = row[j]! - max;
    const k = Math.floor(d * LOG2E_64 + 0.5);
    if (k < MIN_K) continue;
    const r = d - k * LN2_64;
    sum += (1 + r * (1 + r * (1 / 2 + r * (1 / 6)))) * POW2[k - MIN_K]!;
  }
  let above = 0;
  const t = row[target]!;
  const top: number[] = [];
  let floor = -Infinity; // the smallest value kept in top once it is full
  for (let j = 0; j < V; j++) {
    const v = row[j]!;
    above += +(v > t); // branch-free: the comparison is a coin flip for a typical target
    // keep the TOP_K largest, in order (TOP_K is tiny: insertion is cheapest)
    if (v > floor || top.length < TOP_K) {
      let k = Math.min(top.length, TOP_K - 1);
      top[k] = j;
      while (k > 0 && row[top[k - 1]!]! < v) {
        top[k] = top[k - 1]!;
        top[k - 1] = j;
        k--;
      }
      if (top.length === TOP_K) floor = row[top[TOP_K - 1]!]!;
    }
  }
  const logZ = Math.log(sum) + max;
  return { surprisal: logZ - t, rank: above, top, topProb: top.map((j) => Math.exp(row[j]! - logZ)) };
}
