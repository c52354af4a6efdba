// `npx tsx scripts/bench/score-tokens.ts`: the per-token scan of the reading trace
// (core/reading/token-scores.ts: surprisal, rank, top-k from a row of logits) against the scan it
// replaced (Math.exp per logit), measured in the same run, at the default model's vocabulary
// (8,452) and the byte-level one's (260). Prints microseconds per token and the ratio.
import { scoreToken } from '../../core/reading/token-scores.js';
import { TOP_K } from '../../core/reading/trace.js';

/** the scan before (Math.exp per logit), kept here as the baseline */
function scoreTokenBefore(row: Float32Array, target: number): { surprisal: number; rank: number; top: number[] } {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) if (row[j]! > max) max = row[j]!;
  let sum = 0;
  let above = 0;
  const t = row[target]!;
  const top: number[] = [];
  for (let j = 0; j < row.length; j++) {
    const v = row[j]!;
    sum += Math.exp(v - max);
    if (v > t) above++;
    if (top.length < TOP_K || v > row[top[top.length - 1]!]!) {
      let k = Math.min(top.length, TOP_K - 1);
      top[k] = j;
      while (k > 0 && row[top[k - 1]!]! < v) {
        top[k] = top[k - 1]!;
        top[k - 1] = j;
        k--;
      }
    }
  }
  return { surprisal: Math.log(sum) + max - t, rank: above, top };
}

let seed = 7;
const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;

console.log('| vocabulary | before (us/token) | now (us/token) | now (ns/logit) | speed vs before | max surprisal difference |');
console.log('|---|---|---|---|---|---|');
for (const V of [8452, 260]) {
  const R = Math.round(4e7 / V);
  const rows = Float32Array.from({ length: V * R }, () => (rnd() + rnd() + rnd() - 1.5) * 8);
  const row = (r: number) => rows.subarray(r * V, (r + 1) * V);
  const time = (f: (row: Float32Array, t: number) => { surprisal: number }) => {
    for (let r = 0; r < Math.min(R, 200); r++) f(row(r), r % V); // warm up
    const t0 = performance.now();
    const out = new Float64Array(R);
    for (let r = 0; r < R; r++) out[r] = f(row(r), (r * 31) % V).surprisal;
    return { us: (1000 * (performance.now() - t0)) / R, out };
  };
  time(scoreToken);
  const now = time(scoreToken);
  const before = time(scoreTokenBefore);
  const diff = now.out.reduce((m, v, i) => Math.max(m, Math.abs(v - before.out[i]!)), 0);
  console.log(`| ${V.toLocaleString('en')} | ${before.us.toFixed(1)} | ${now.us.toFixed(1)} | ${((1000 * now.us) / V).toFixed(2)} | ${(before.us / now.us).toFixed(2)}x | ${diff.toExponential(1)} |`);
}
