// The overlay's pure pieces: words take their most surprising token, the legend's range, the
// colour scale's lightness falls evenly, and the CSV export is one line per token.
import { describe, expect, it } from 'vitest';
import type { OverlayTrace, SeriesPoint, TokenTrace } from '../../../core/api/contract.js';
import fs from 'node:fs';
import { colour, overlayValue, scaleOf, scoreWords, step, STEPS, traceCsv } from '../../../renderer/src/lib/surprise.js';

const mem = (grad: number | null) => ({ grad, loss: 1, theta: 0.1, eta: 0.9, alpha: 0.01, momentum: 0.2 });
const token = (index: number, start: number, surprisal: number | null, grads: Array<number | null>): TokenTrace['tokens'][number] => ({
  index,
  start,
  surprisal,
  rank: 3,
  top: [{ text: 'a', p: 0.5 }, { text: ',', p: 0.2 }, { text: '\n', p: 0.1 }],
  memory: grads.map(mem),
});

/** The overlay's columns for some tokens (what doc.overlay returns). */
const columns = (ts: Array<TokenTrace['tokens'][number]>): OverlayTrace => ({
  modelId: 'm',
  layers: [0, 1],
  starts: ts.map((t) => t.start),
  surprisal: ts.map((t) => t.surprisal),
  grad: [0, 1].map((l) => ts.map((t) => t.memory[l]!.grad)),
});

describe('surprise overlay helpers', () => {
  const text = 'ab cd\n\nef';
  const tokens = [token(0, 10, null, [1, 3]), token(1, 11, 2, [5, 1]), token(2, 12, 0.5, [0, 0]), token(3, 13, 1, [2, 2]), token(4, 14, 4, [null, 1]), token(5, 15, 3, [1, 1]), token(6, 17, 9, [7, 9]), token(7, 18, 1, [0, 0])];

  it('scores each word by its most surprising token, for each signal', () => {
    const o = columns(tokens);
    expect(overlayValue(o, 1, 'model')).toBe(2);
    expect(overlayValue(o, 1, 'memory')).toBe(3);
    expect(overlayValue(o, 1, 0)).toBe(5);
    expect(overlayValue(o, 4, 'memory')).toBe(1); // a layer without a value is left out of the mean
    const words = scoreWords(text, 10, o, 'model');
    expect(words.map((w) => w.text)).toEqual(['ab', ' ', 'cd', '\n\n', 'ef']);
    expect(words.map((w) => w.value)).toEqual([2, null, 4, null, 9]);
    expect(words.map((w) => w.token)).toEqual([1, -1, 4, -1, 6]);
    expect(scoreWords(text, 10, o, 1).map((w) => w.value)).toEqual([3, null, 2, null, 9]);
  });

  it('gives a word the BPE token that carries its leading space', () => {
    // "ab cd": tokens "ab" at 0 and " cd" at 2 (the space belongs to the second token)
    const bpe = [token(0, 0, 1, [1, 1]), token(1, 2, 5, [2, 2])];
    const words = scoreWords('ab cd', 0, columns(bpe), 'model');
    expect(words.map((w) => [w.text, w.value])).toEqual([['ab', 1], [' ', null], ['cd', 5]]);
    // a word whose token began in the block before: the fetched trace starts one character early
    expect(scoreWords('cd', 3, columns(bpe), 'model').map((w) => w.value)).toEqual([5]);
  });

  it('takes the legend from the 5th percentile of the means to the 98th of the maxima', () => {
    const points = Array.from({ length: 101 }, (_, i): SeriesPoint => ({ start: i, end: i + 1, lmMean: i, lmMax: 2 * i, memMean: null, memMax: null, layers: [] }));
    expect(scaleOf(points, 'model')).toEqual({ lo: 5, hi: 196 });
    expect(scaleOf(points, 'memory')).toEqual({ lo: 0, hi: 1 }); // nothing to scale by
  });

  it('darkens evenly along the scale (perceptually uniform lightness)', () => {
    const lightness = [0, 0.25, 0.5, 0.75, 1].map((t) => Number(/oklch\(([\d.]+)%/.exec(colour(t))![1]));
    const steps = lightness.slice(1).map((l, i) => lightness[i]! - l);
    for (const s of steps) expect(s).toBeCloseTo(steps[0]!, 6);
    expect(steps[0]).toBeGreaterThan(0);
    // the overlay's classes in app.css are the scale's steps
    const css = fs.readFileSync(new URL('../../../renderer/src/app.css', import.meta.url), 'utf8');
    for (let k = 0; k < STEPS; k++) expect(css).toContain(`::highlight(surprise-${k}) { background-color: ${colour((k + 0.5) / STEPS)};`);
    expect([0, 0.5, 0.999, 1, 2].map(step)).toEqual([0, 6, 11, 11, 11]);
    expect(colour(-3)).toBe(colour(0));
    expect(colour(7)).toBe(colour(1));
  });

  it('writes one CSV line per token, with line breaks in text escaped and commas quoted', () => {
    const trace: TokenTrace = { modelId: 'm', modelName: 'M', layers: [0, 1], tokens };
    const doc = ' '.repeat(10) + text;
    const csv = traceCsv(trace, (a, b) => doc.slice(a, b), (i) => tokens[i + 1]?.start ?? doc.length, true);
    const lines = csv.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + tokens.length);
    expect(lines[0]!.split(',')).toHaveLength(12 + 2 * 6);
    expect(lines[1]).toBe('0,10,a,,,3,a,0.5,",",0.2,\\n,0.1,1,1,0.1,0.9,0.01,0.2,3,1,0.1,0.9,0.01,0.2');
    expect(lines[6]).toContain(',15,\\n\\n,3,'); // the blank line's token
  });
});
