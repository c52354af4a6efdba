// Surprise signals shown to users (docs/titans.md section 1, last paragraph), per layer:
// per token the gradient norm of its own loss ||grad_W l_t|| (the paper's momentary surprise),
// cheap from the rank-1 structure ||x (x) dz|| = ||x|| ||dz||, one number per fast-weight tensor;
// the unweighted loss l_t and theta_t; per chunk eta_n, alpha_n and ||S_n||.

import * as tf from '@tensorflow/tfjs';

export interface SurpriseReport {
  /** absolute position of the first token covered (the first token stored by this call) */
  start: number;
  /** tokens covered: those of the chunks completed by this call */
  length: number;
  /** memories = batch x heads, index g = b*heads + head */
  memories: number;
  /** names of the fast-weight tensors, in the order of gradNorm (memGamma?, mem0, ...) */
  tensorNames: string[];
  /** unweighted per-token loss l_t [memories, length] */
  loss: Float32Array;
  /** theta_t [memories, length] */
  theta: Float32Array;
  /** per fast-weight tensor, ||grad_W l_t|| at the weights the chunk's gradient used [memories, length] */
  gradNorm: Float32Array[];
  /** absolute index of the first chunk covered */
  firstChunk: number;
  chunks: number;
  /** per chunk eta_n, alpha_n, and ||S_n|| (Frobenius over all fast-weight tensors) [memories, chunks] */
  eta: Float32Array;
  alpha: Float32Array;
  momentumNorm: Float32Array;
}

/** tensors collected during a forward call, turned into a SurpriseReport after the tidy */
export interface SurpriseTensors {
  loss: tf.Tensor; // [G, len]
  theta: tf.Tensor; // [G, len]
  gradNorm: tf.Tensor[]; // each [G, len]
  eta: tf.Tensor; // [G, chunks]
  alpha: tf.Tensor; // [G, chunks]
  momentumNorm: tf.Tensor; // [G, chunks]
}

/** ||S|| over all fast-weight tensors, per memory: [G] */
export function momentumNorm(S: tf.Tensor[]): tf.Tensor {
  let acc: tf.Tensor | null = null;
  for (const s of S) {
    const axes = s.shape.map((_, i) => i).slice(1);
    const ss = tf.sum(tf.square(s), axes);
    acc = acc ? tf.add(acc, ss) : ss;
  }
  return tf.sqrt(acc!);
}

/** reports whose tensors are read after the synchronous call that made them (withAsyncSurprise) */
let deferred: Array<{ report: SurpriseReport; t: SurpriseTensors }> | null = null;

/** read the collected tensors (outside any tf.tidy: never return large TypedArrays from tidy)
 *  and dispose them; inside withAsyncSurprise, the report is filled when that resolves */
export function readSurprise(
  t: SurpriseTensors,
  meta: { start: number; firstChunk: number; tensorNames: string[] },
): SurpriseReport {
  const base = {
    start: meta.start,
    length: t.loss.shape[1]!,
    memories: t.loss.shape[0]!,
    tensorNames: meta.tensorNames,
    firstChunk: meta.firstChunk,
    chunks: t.eta.shape[1]!,
  };
  if (deferred) {
    // kept past any enclosing tf.tidy (TitansModel.forward's) until withAsyncSurprise reads them
    for (const x of [t.loss, t.theta, ...t.gradNorm, t.eta, t.alpha, t.momentumNorm]) tf.keep(x);
    const z = new Float32Array(0); // replaced before withAsyncSurprise resolves
    const report: SurpriseReport = { ...base, loss: z, theta: z, gradNorm: t.gradNorm.map(() => z), eta: z, alpha: z, momentumNorm: z };
    deferred.push({ report, t });
    return report;
  }
  const f = (x: tf.Tensor) => x.dataSync() as Float32Array;
  const r: SurpriseReport = {
    ...base,
    loss: f(t.loss).slice(),
    theta: f(t.theta).slice(),
    gradNorm: t.gradNorm.map((x) => f(x).slice()),
    eta: f(t.eta).slice(),
    alpha: f(t.alpha).slice(),
    momentumNorm: f(t.momentumNorm).slice(),
  };
  disposeSurpriseTensors(t);
  return r;
}

function disposeSurpriseTensors(t: SurpriseTensors): void {
  tf.dispose([t.loss, t.theta, ...t.gradNorm, t.eta, t.alpha, t.momentumNorm]);
}

/**
 * Run `f` (synchronous: a forward call with surprise) and read the surprise reports it makes
 * afterwards with `await data()`, which every backend can do; the webgpu backend in Node cannot
 * read synchronously. The reports are complete when the promise resolves.
 */
export async function withAsyncSurprise<T>(f: () => T): Promise<T> {
  if (deferred) throw new Error('withAsyncSurprise cannot be nested');
  const mine: Array<{ report: SurpriseReport; t: SurpriseTensors }> = [];
  deferred = mine;
  let result: T;
  try {
    result = f();
  } catch (e) {
    for (const d of mine) disposeSurpriseTensors(d.t);
    throw e;
  } finally {
    deferred = null;
  }
  try {
    const read = async (x: tf.Tensor) => ((await x.data()) as Float32Array).slice();
    await Promise.all(
      mine.map(async ({ report, t }) => {
        const [loss, theta, eta, alpha, momentumNorm, ...gradNorm] = await Promise.all([t.loss, t.theta, t.eta, t.alpha, t.momentumNorm, ...t.gradNorm].map(read));
        Object.assign(report, { loss, theta, eta, alpha, momentumNorm, gradNorm });
      }),
    );
  } finally {
    for (const d of mine) disposeSurpriseTensors(d.t);
  }
  return result;
}
