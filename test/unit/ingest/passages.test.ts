// Passages tile the text exactly, end at paragraph ends where they can, stay under the maximum,
// never cross a page start, and do not depend on how the text was cut into pieces.
import { describe, expect, it } from 'vitest';
import { PASSAGE_MAX, PASSAGE_TARGET, PassageSplitter, type Passage } from '../../../core/ingest/passages.js';
import { makeBook, rng } from '../../fixtures/texts.js';

function split(text: string, pieces: number[], breaks: number[] = []): Passage[] {
  const out: Passage[] = [];
  const s = new PassageSplitter((p) => out.push(p), breaks);
  let at = 0;
  for (const n of pieces) {
    s.push(text.slice(at, at + n));
    at += n;
  }
  s.push(text.slice(at));
  s.end();
  return out;
}

describe('PassageSplitter', () => {
  const book = makeBook({ chapters: 3, paragraphsPerChapter: 40, seed: 4 }) + 'x'.repeat(5000) + '\n\nThe end.\n';

  it('tiles the text, prefers paragraph ends, and keeps every passage under the maximum', () => {
    const passages = split(book, []);
    expect(passages.map((p) => p.text).join('')).toBe(book);
    for (let i = 1; i < passages.length; i++) expect(passages[i]!.start).toBe(passages[i - 1]!.start + passages[i - 1]!.text.length);
    for (const p of passages) expect(p.text.length).toBeLessThanOrEqual(PASSAGE_MAX);
    const atParagraphEnd = passages.slice(0, -1).filter((p) => p.text.endsWith('\n\n')).length;
    expect(atParagraphEnd / (passages.length - 1)).toBeGreaterThan(0.7);
    expect(passages.filter((p) => p.text.length >= PASSAGE_TARGET / 2).length / passages.length).toBeGreaterThan(0.7);
  });

  it('gives the same passages however the text arrives', () => {
    const next = rng(7);
    const pieces = Array.from({ length: 200 }, () => 1 + Math.floor(next() * 900));
    expect(split(book, pieces)).toEqual(split(book, []));
  });

  it('starts a new passage at every page start', () => {
    const breaks = [1234, 1300, 5000, 9999];
    const passages = split(book, [700, 3000, 10], breaks);
    expect(passages.map((p) => p.text).join('')).toBe(book);
    for (const b of breaks) expect(passages.some((p) => p.start === b)).toBe(true);
    for (const p of passages) for (const b of breaks) expect(b <= p.start || b >= p.start + p.text.length).toBe(true);
  });
});
