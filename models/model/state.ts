// What the model carries from one call to the next, so a document can be read in pieces (and a
// reply generated token by token) with exactly the result of one call over the whole text.
import * as tf from '@tensorflow/tfjs';
import { disposeState, type MemoryState } from '../memory/neural-memory.js';

export interface LayerState {
  /** the memory after every chunk stored so far */
  mem: MemoryState | null;
  /** MAC: the memory at the start of the current segment (its tokens h read it) */
  memAtSegment: MemoryState | null;
  /** MAC: the last convKernel - 1 normalized inputs (the query projection's causal conv context) */
  queryContext: tf.Tensor | null;
  /** attention cache, [B*H, n, D] after RoPE: MAC the segment's tokens so far; MAG/MAL the window */
  k: tf.Tensor | null;
  v: tf.Tensor | null;
  /** MAC: keys and values of the memory tokens h of the segment so far */
  hk: tf.Tensor | null;
  hv: tf.Tensor | null;
}

export interface ModelState {
  /** absolute position of the next token */
  pos: number;
  batch: number;
  layers: LayerState[];
}

export function emptyLayerState(): LayerState {
  return { mem: null, memAtSegment: null, queryContext: null, k: null, v: null, hk: null, hv: null };
}

function layerTensors(l: LayerState): tf.Tensor[] {
  return [l.queryContext, l.k, l.v, l.hk, l.hv].filter((t): t is tf.Tensor => t !== null);
}

export function disposeModelState(s: ModelState | null | undefined): void {
  if (!s) return;
  for (const l of s.layers) {
    tf.dispose(layerTensors(l).filter((t) => !t.isDisposed));
    const seen = l.mem;
    disposeState(l.mem);
    if (l.memAtSegment !== seen) disposeState(l.memAtSegment);
  }
}

/** Tensors held by a state (to keep them alive through a tf.tidy, or to count them). */
export function stateTensors(s: ModelState): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  for (const l of s.layers) {
    out.push(...layerTensors(l));
    for (const m of [l.mem, l.memAtSegment]) if (m) out.push(...m.weights, ...m.momentum, ...m.gradWeights, ...(m.carry ? [m.carry] : []));
  }
  return out;
}

/**
 * Make `next` own its tensors: every tensor it shares with `prev` (which the caller may dispose)
 * is replaced by a clone (a clone shares the data; nothing is copied).
 */
export function detachState(prev: ModelState | null, next: ModelState): ModelState {
  if (!prev) return next;
  const given = new Set(stateTensors(prev));
  const memo = new Map<tf.Tensor, tf.Tensor>();
  const own = <T extends tf.Tensor | null>(t: T): T => {
    if (!t || !given.has(t)) return t;
    if (!memo.has(t)) memo.set(t, tf.clone(t));
    return memo.get(t)! as T;
  };
  const ownMem = (m: MemoryState | null): MemoryState | null =>
    m && { ...m, weights: m.weights.map(own), momentum: m.momentum.map(own), gradWeights: m.gradWeights.map(own), carry: own(m.carry) };
  const memos = new Map<MemoryState, MemoryState | null>();
  const ownMemOnce = (m: MemoryState | null) => {
    if (!m) return null;
    if (!memos.has(m)) memos.set(m, ownMem(m));
    return memos.get(m)!;
  };
  return {
    ...next,
    layers: next.layers.map((l) => ({
      mem: ownMemOnce(l.mem),
      memAtSegment: ownMemOnce(l.memAtSegment),
      queryContext: own(l.queryContext),
      k: own(l.k),
      v: own(l.v),
      hk: own(l.hk),
      hv: own(l.hv),
    })),
  };
}
