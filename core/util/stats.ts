// Summaries of values that may be missing: null and NaN (a token with no stored chunk yet) are skipped.

const finite = (xs: ReadonlyArray<number | null>): number[] => xs.filter((x): x is number => x !== null && Number.isFinite(x));

/** The mean of the finite values, or null when there are none. */
export function finiteMean(xs: ReadonlyArray<number | null>): number | null {
  const f = finite(xs);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : null;
}

/** The largest finite value, or null when there are none. */
export function finiteMax(xs: ReadonlyArray<number | null>): number | null {
  const f = finite(xs);
  return f.length ? f.reduce((a, b) => (b > a ? b : a)) : null;
}
