// Vertical layout of the reader's text blocks: estimated heights until a block is rendered and
// measured, prefix sums for positions, binary searches for "which block is at y / holds offset".
import type { BlockInfo } from '../../../core/api/contract';

/** The last index i in [0, n) with key(i) <= x (keys ascending), or 0 when there is none. */
export function lastAtOrBefore(n: number, key: (i: number) => number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (key(mid) <= x) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(0, lo);
}

export class BlockLayout {
  private readonly heights: Float64Array;
  private readonly tops: Float64Array; // tops[i] = sum of heights before block i; tops[n] = total
  private dirty = false;

  constructor(
    readonly blocks: readonly BlockInfo[],
    totalLines: number,
    charsPerRow: number,
    rowHeight: number,
  ) {
    const n = blocks.length;
    this.heights = new Float64Array(n);
    this.tops = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      const lines = (i + 1 < n ? blocks[i + 1]!.line : totalLines + 1) - b.line;
      const rows = Math.max(lines, Math.ceil(b.length / Math.max(1, charsPerRow))) + 0.25 * lines;
      this.heights[i] = Math.max(rowHeight, rows * rowHeight);
    }
    this.recompute();
  }

  get count(): number {
    return this.blocks.length;
  }

  get total(): number {
    this.ensure();
    return this.tops[this.blocks.length]!;
  }

  top(i: number): number {
    this.ensure();
    return this.tops[Math.max(0, Math.min(i, this.blocks.length))]!;
  }

  height(i: number): number {
    return this.heights[i] ?? 0;
  }

  /** Record a measured height; returns whether it changed. */
  setHeight(i: number, h: number): boolean {
    if (Math.abs(this.heights[i]! - h) < 0.5) return false;
    this.heights[i] = h;
    this.dirty = true;
    return true;
  }

  /** The block that covers vertical position y. */
  indexAt(y: number): number {
    this.ensure();
    return lastAtOrBefore(this.blocks.length, (i) => this.tops[i]!, y);
  }

  /** The block that holds character offset `offset`. */
  indexOfOffset(offset: number): number {
    return lastAtOrBefore(this.blocks.length, (i) => this.blocks[i]!.start, offset);
  }

  private ensure(): void {
    if (this.dirty) this.recompute();
  }

  private recompute(): void {
    let y = 0;
    for (let i = 0; i < this.blocks.length; i++) {
      this.tops[i] = y;
      y += this.heights[i]!;
    }
    this.tops[this.blocks.length] = y;
    this.dirty = false;
  }
}

export interface Segment {
  text: string;
  match: number; // index of the find match this segment belongs to, or -1
}

/** Split a block's text into plain runs and find-match runs. `matches` are sorted by start. */
export function segmentBlock(text: string, blockStart: number, matches: ReadonlyArray<{ start: number; end: number }>): Segment[] {
  const blockEnd = blockStart + text.length;
  let lo = 0;
  let hi = matches.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (matches[mid]!.end <= blockStart) lo = mid + 1;
    else hi = mid;
  }
  const out: Segment[] = [];
  let pos = 0;
  for (let m = lo; m < matches.length && matches[m]!.start < blockEnd; m++) {
    const s = Math.max(0, matches[m]!.start - blockStart);
    const e = Math.min(text.length, matches[m]!.end - blockStart);
    if (s > pos) out.push({ text: text.slice(pos, s), match: -1 });
    if (e > s) out.push({ text: text.slice(s, e), match: m });
    pos = Math.max(pos, e);
  }
  if (pos < text.length || out.length === 0) out.push({ text: text.slice(pos), match: -1 });
  return out;
}
