// The surprise overlay's pieces: which signal to show, a perceptually uniform colour scale
// (OKLCH, light for unsurprising text), the legend's range, and words
// scored from their tokens.
import type { OverlayTrace, SeriesPoint, TokenTrace } from '../../../core/api/contract.js';

/** 'model': the language model's surprisal; 'memory': the memory's surprise averaged over layers; a number: that memory layer. */
export type Signal = 'model' | 'memory' | number;

type Token = TokenTrace['tokens'][number];

/** What the reader's overlay shows, and how. */
export interface Overlay {
  signal: Signal;
  lo: number;
  hi: number;
  /** words below this fraction of the scale stay uncoloured */
  threshold: number;
  modelId: string;
}

/** The token under the mouse, for the hover card. */
export interface Hovered {
  token: Token;
  layers: number[];
  text: string;
  /** where the word is on screen (a DOMRect) */
  rect: { left: number; top: number; bottom: number };
}

/** Token i's value under a signal, from the overlay's columns. */
export function overlayValue(o: OverlayTrace, i: number, signal: Signal): number | null {
  if (signal === 'model') return o.surprisal[i] ?? null;
  if (signal === 'memory') {
    const vs = o.grad.map((g) => g[i]).filter((v): v is number => v !== null && v !== undefined);
    return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : null;
  }
  return o.grad[signal]?.[i] ?? null;
}

export function pointValue(p: SeriesPoint, signal: Signal, which: 'mean' | 'max' = 'mean'): number | null {
  if (signal === 'model') return which === 'mean' ? p.lmMean : p.lmMax;
  if (signal === 'memory') return which === 'mean' ? p.memMean : p.memMax;
  const l = p.layers[signal];
  return l ? (which === 'mean' ? l.gradMean : l.gradMax) : null;
}

/** @param layerIds the memory layers' numbers (a numeric signal is an index into them) */
export function signalLabel(signal: Signal, layerIds: number[] = []): string {
  if (signal === 'model') return "model's surprisal (nats)";
  if (signal === 'memory') return "memory's surprise, mean of layers";
  return `memory's surprise, layer ${layerIds[signal] ?? signal}`;
}

/**
 * The colour of t in [0, 1], on a perceptually uniform scale (OKLCH: lightness falls evenly from
 * near-white to dark violet while the hue turns from yellow through green-blue, viridis' path),
 * so unsurprising text stays light and readable and equal steps look equal.
 */
export function colour(t: number): string {
  const x = Math.min(1, Math.max(0, t));
  return `oklch(${(96 - 58 * x).toFixed(1)}% ${(0.06 + 0.1 * x).toFixed(3)} ${(100 + 200 * x).toFixed(0)})`;
}

/** The overlay paints in STEPS highlights (::highlight(surprise-0 ... 11) in app.css, colour((k + 0.5) / STEPS)). */
export const STEPS = 12;
export function step(t: number): number {
  return Math.min(STEPS - 1, Math.max(0, Math.floor(t * STEPS)));
}

/** The legend's range: from the 5th percentile of the book's bucket means to the 98th of its bucket maxima (words take their most surprising token). */
export function scaleOf(points: SeriesPoint[], signal: Signal): { lo: number; hi: number } {
  const sorted = (which: 'mean' | 'max') =>
    points
      .map((p) => pointValue(p, signal, which))
      .filter((v): v is number => v !== null)
      .sort((a, b) => a - b);
  const means = sorted('mean');
  const maxima = sorted('max');
  if (means.length === 0) return { lo: 0, hi: 1 };
  const q = (vs: number[], f: number) => vs[Math.min(vs.length - 1, Math.floor(f * (vs.length - 1)))]!;
  const lo = q(means, 0.05);
  const hi = Math.max(q(maxima, 0.98), lo + 1e-6);
  return { lo, hi };
}

export interface Word {
  text: string;
  /** index in the overlay's columns of the word's most surprising token, or -1 (white space, or no trace) */
  token: number;
  value: number | null;
}

/** Split a block's text into words and white space; each word takes its most surprising token. */
export function scoreWords(text: string, blockStart: number, o: OverlayTrace, signal: Signal): Word[] {
  const out: Word[] = [];
  const starts = o.starts;
  let k = 0;
  const re = /\s+|[^\s]+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const s = blockStart + m.index;
    const e = s + m[0].length;
    if (/^\s/.test(m[0])) {
      out.push({ text: m[0], token: -1, value: null });
      continue;
    }
    // the tokens that overlap the word: from the one that covers its first character (a BPE token
    // starts with the space before the word) to the last that starts inside it
    while (k + 1 < starts.length && starts[k + 1]! <= s) k++;
    let best = -1;
    let bestValue: number | null = null;
    for (let j = k; j < starts.length && starts[j]! < e; j++) {
      if ((starts[j + 1] ?? Infinity) <= s) continue; // ends before the word
      const v = overlayValue(o, j, signal);
      if (v !== null && (bestValue === null || v > bestValue)) {
        best = j;
        bestValue = v;
      }
    }
    out.push({ text: m[0], token: best, value: bestValue });
  }
  return out;
}

/** The trace as CSV rows (one per token), for export. */
export function traceCsv(trace: TokenTrace, text: (start: number, end: number) => string, nextStart: (i: number) => number, header: boolean): string {
  const L = trace.layers.length;
  const cols = ['token', 'char_start', 'text', 'surprisal_nats', 'probability', 'rank', 'top1', 'top1_p', 'top2', 'top2_p', 'top3', 'top3_p'];
  for (const l of trace.layers) cols.push(...['grad', 'loss', 'theta', 'eta', 'alpha', 'momentum'].map((k) => `layer${l}_${k}`));
  // one line per token: line breaks and tabs inside a token's text are written as \n, \r, \t
  const q = (s: string) => {
    const t = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    return /[",]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const n = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  const lines: string[] = header ? [cols.join(',')] : [];
  trace.tokens.forEach((t, i) => {
    const row = [String(t.index), String(t.start), q(text(t.start, nextStart(i))), n(t.surprisal), n(t.surprisal === null ? null : Math.exp(-t.surprisal)), n(t.rank)];
    for (let k = 0; k < 3; k++) row.push(q(t.top[k]?.text ?? ''), n(t.top[k]?.p));
    for (let l = 0; l < L; l++) {
      const m = t.memory[l]!;
      row.push(n(m.grad), n(m.loss), n(m.theta), n(m.eta), n(m.alpha), n(m.momentum));
    }
    lines.push(row.join(','));
  });
  return lines.join('\n') + '\n';
}

/** One line of a chart along the text. */
export interface Line {
  label: string;
  colour: string;
  /** [start, end) of each point along the text */
  spans: Array<[number, number]>;
  values: Array<number | null>;
  /** per point the maximum, drawn as a light band above the line */
  band?: Array<number | null>;
}
