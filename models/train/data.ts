// Seeded batches of token windows from several documents, and held-out splits.
import * as tf from '@tensorflow/tfjs';

/** xoshiro128** : small, fast, seeded, with a 4 x uint32 state that serializes exactly */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number | number[] = 1) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) this.setState(seed);
    else {
      // splitmix32 to spread a single seed over the state
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if (this.s.every((v) => v === 0)) this.s[0] = 1;
    }
  }

  /** next uint32 */
  nextUint32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** uniform in [0, 1) with 53 random bits */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** uniform integer in [0, n) (n <= 2^32), unbiased */
  int(n: number): number {
    if (!(n >= 1) || n > 2 ** 32 || !Number.isInteger(n)) throw new Error(`Rng.int: bad range ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new Error('Rng: state must be 4 uint32 values');
    }
    this.s = Uint32Array.from(state);
  }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export type DocumentChoice = 'proportional' | 'round-robin';

export interface SamplerOptions {
  /** documents as token ids (views such as the parts of a split are fine) */
  docs: Int32Array[];
  batchSize: number;
  /** T: each window holds T + 1 tokens (inputs [0, T), targets [1, T + 1)) */
  seqLen: number;
  seed?: number;
  /** 'proportional' (default): a document with probability proportional to its number of
   * windows (length - T); 'round-robin': documents in turn. Starts are uniform either way. */
  choice?: DocumentChoice;
}

export interface SamplerState {
  rng: number[];
  next: number;
  batches: number;
}

export interface WindowBatch {
  /** row-major [batchSize, seqLen + 1] */
  tokens: Int32Array;
  shape: [number, number];
  /** where each row came from */
  windows: { doc: number; start: number }[];
}

/** batches of windows [B, T+1] mixing documents; deterministic for a seed; state serializable */
export class WindowSampler {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly choice: DocumentChoice;
  /** documents long enough for one window */
  private readonly usable: number[];
  private readonly cumulative: number[];
  private readonly rng: Rng;
  private rr = 0;
  private batches = 0;

  constructor(private readonly opts: SamplerOptions) {
    this.batchSize = opts.batchSize;
    this.seqLen = opts.seqLen;
    this.choice = opts.choice ?? 'proportional';
    if (!(this.batchSize >= 1 && this.seqLen >= 1)) throw new Error('WindowSampler: batchSize and seqLen must be >= 1');
    this.usable = opts.docs.flatMap((d, i) => (d.length >= this.seqLen + 1 ? [i] : []));
    if (this.usable.length === 0) throw new Error(`WindowSampler: no document has ${this.seqLen + 1} tokens`);
    let c = 0;
    this.cumulative = this.usable.map((i) => (c += opts.docs[i]!.length - this.seqLen));
    this.rng = new Rng(opts.seed ?? 1);
  }

  /** windows available (sum over documents of length - T) */
  get windowCount(): number {
    return this.cumulative[this.cumulative.length - 1]!;
  }

  private pickDoc(): number {
    if (this.choice === 'round-robin') {
      const d = this.usable[this.rr % this.usable.length]!;
      this.rr = (this.rr + 1) % this.usable.length;
      return d;
    }
    const x = this.rng.int(this.windowCount);
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.usable[lo]!;
  }

  next(): WindowBatch {
    const B = this.batchSize;
    const W = this.seqLen + 1;
    const tokens = new Int32Array(B * W);
    const windows: { doc: number; start: number }[] = [];
    for (let b = 0; b < B; b++) {
      const doc = this.pickDoc();
      const d = this.opts.docs[doc]!;
      const start = this.rng.int(d.length - W + 1);
      tokens.set(d.subarray(start, start + W), b * W);
      windows.push({ doc, start });
    }
    this.batches++;
    return { tokens, shape: [B, W], windows };
  }

  /** the next batch as an int32 tensor [B, T+1] (caller disposes) */
  nextTensor(): tf.Tensor2D {
    const b = this.next();
    return tf.tensor2d(b.tokens, b.shape, 'int32');
  }

  getState(): SamplerState {
    return { rng: this.rng.getState(), next: this.rr, batches: this.batches };
  }

  setState(s: SamplerState): void {
    this.rng.setState(s.rng);
    this.rr = s.next;
    this.batches = s.batches;
  }
}

export interface SplitOptions {
  /** 'tail' (default): the last `fraction` of every document is held out; 'document': whole
   * documents are held out (chosen with the seed) until `fraction` of all tokens is reached */
  by?: 'tail' | 'document';
  /** fraction held out, in (0, 1) (default 0.1) */
  fraction?: number;
  seed?: number;
}

export interface Span {
  doc: number;
  start: number;
  end: number;
}

export interface Split {
  train: Int32Array[];
  heldOut: Int32Array[];
  /** where each part lies in the original documents */
  trainSpans: Span[];
  heldOutSpans: Span[];
}

/** split documents into disjoint training and held-out parts (views, no copies): windows
 * sampled inside a training part can never contain a held-out token */
export function splitDocuments(docs: Int32Array[], opts: SplitOptions = {}): Split {
  const f = opts.fraction ?? 0.1;
  if (!(f > 0 && f < 1)) throw new Error('splitDocuments: fraction must be in (0, 1)');
  const trainSpans: Span[] = [];
  const heldOutSpans: Span[] = [];
  if ((opts.by ?? 'tail') === 'tail') {
    docs.forEach((d, i) => {
      const cut = d.length - Math.round(d.length * f);
      if (cut > 0) trainSpans.push({ doc: i, start: 0, end: cut });
      if (cut < d.length) heldOutSpans.push({ doc: i, start: cut, end: d.length });
    });
  } else {
    if (docs.length < 2) throw new Error('splitDocuments: splitting by document needs at least 2 documents');
    const rng = new Rng(opts.seed ?? 1);
    const order = docs.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const total = docs.reduce((a, d) => a + d.length, 0);
    const held = new Set<number>();
    let taken = 0;
    for (const i of order) {
      if (taken >= f * total || held.size === docs.length - 1) break;
      held.add(i);
      taken += docs[i]!.length;
    }
    docs.forEach((d, i) => (held.has(i) ? heldOutSpans : trainSpans).push({ doc: i, start: 0, end: d.length }));
  }
  const view = (s: Span) => docs[s.doc]!.subarray(s.start, s.end);
  return { train: trainSpans.map(view), heldOut: heldOutSpans.map(view), trainSpans, heldOutSpans };
}

/** deterministic evaluation batches: windows [B, T+1] starting every T tokens of every document
 * (consecutive windows share one boundary token, so every target is predicted once), at most
 * maxWindows in all; the last batch may have fewer rows */
export function evaluationBatches(
  docs: Int32Array[],
  seqLen: number,
  batchSize: number,
  maxWindows = Infinity,
): WindowBatch[] {
  const W = seqLen + 1;
  const all: { doc: number; start: number }[] = [];
  docs.forEach((d, doc) => {
    for (let start = 0; start + W <= d.length && all.length < maxWindows; start += seqLen) all.push({ doc, start });
  });
  const out: WindowBatch[] = [];
  for (let i = 0; i < all.length; i += batchSize) {
    const windows = all.slice(i, i + batchSize);
    const tokens = new Int32Array(windows.length * W);
    windows.forEach((w, b) => tokens.set(docs[w.doc]!.subarray(w.start, w.start + W), b * W));
    out.push({ tokens, shape: [windows.length, W], windows });
  }
  return out;
}
