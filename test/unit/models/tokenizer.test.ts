import { describe, expect, it } from 'vitest';
import { BpeTokenizer, ByteTokenizer, FIRST_MERGE_ID, splitWords, tokenizerFromSpec, trainBpe } from '../../../models/tokenizer/index.js';
import { makeBook, RUSSIAN } from '../../fixtures/texts.js';

const SAMPLES = ['Hello, world!', RUSSIAN, 'emoji 🦉 and 中文, e\u0301 combining', '', 'tabs\tand\nnewlines\r\n'];

describe('byte tokenizer', () => {
  const tok = new ByteTokenizer();

  it('round-trips any text, one token per UTF-8 byte', () => {
    for (const s of SAMPLES) {
      const { ids } = tok.encode(s);
      expect(ids.length).toBe(new TextEncoder().encode(s).length);
      expect(tok.decode(ids)).toBe(s);
    }
  });

  it('gives every token the UTF-16 offset of its character', () => {
    const s = 'aé🦉b';
    const { ids, offsets } = tok.encode(s);
    expect(Array.from(ids)).toHaveLength(1 + 2 + 4 + 1);
    expect(Array.from(offsets)).toEqual([0, 1, 1, 2, 2, 2, 2, 4]);
  });

  it('decodes a stream token by token, holding back incomplete characters', () => {
    const s = 'Ёж 🦉!';
    const d = tok.streamDecoder();
    const pieces = Array.from(tok.encode(s).ids).map((id) => d.push(id));
    expect(pieces.join('') + d.flush()).toBe(s);
    expect(pieces.every((p) => !p.includes('\ufffd'))).toBe(true);
  });

  it('has special tokens outside the byte range that decode to nothing', () => {
    expect(tok.special('<eos>')).toBeGreaterThanOrEqual(256);
    expect(tok.decode([104, tok.special('<eos>'), 105])).toBe('hi');
  });
});

describe('BPE tokenizer', () => {
  const corpus = [makeBook({ chapters: 3, paragraphsPerChapter: 30, seed: 4 }), RUSSIAN.repeat(30)];
  const tok = trainBpe(corpus, 300);

  it('learns merges that shorten the text, and round-trips exactly', () => {
    expect(tok.vocabSize).toBeGreaterThan(FIRST_MERGE_ID + 100);
    const text = corpus[0]!.slice(0, 5000);
    const ids = tok.encode(text).ids;
    expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length / 2.5);
    for (const s of [...SAMPLES, text]) expect(tok.decode(tok.encode(s).ids)).toBe(s);
  });

  it('maps each token to the offset where its text starts', () => {
    const text = 'The lighthouse keeper, Ёжик. 🦉';
    const { ids, offsets } = tok.encode(text);
    const stream = tok.streamDecoder();
    let rebuilt = '';
    for (let i = 0; i < ids.length; i++) {
      const piece = new TextDecoder().decode(tok.bytesOf(ids[i]!));
      if (!piece.includes('\ufffd')) expect(text.startsWith(piece, offsets[i]!)).toBe(true);
      expect(offsets[i]).toBeGreaterThanOrEqual(i > 0 ? offsets[i - 1]! : 0);
      rebuilt += stream.push(ids[i]!);
    }
    expect(rebuilt + stream.flush()).toBe(text);
  });

  it('is rebuilt identically from its stored spec', () => {
    const copy = tokenizerFromSpec(JSON.parse(JSON.stringify(tok.spec)));
    const text = corpus[0]!.slice(0, 2000);
    expect(Array.from(copy.encode(text).ids)).toEqual(Array.from(tok.encode(text).ids));
  });

  it('rejects a merge list that refers to tokens not yet defined', () => {
    expect(() => new BpeTokenizer([[FIRST_MERGE_ID + 5, 1]])).toThrow(/unknown token/);
  });

  it('splits words with their leading space, digits in threes', () => {
    expect(splitWords("He's 12345 ok!").map((w) => w.word)).toEqual(['He', "'s", ' 123', '45', ' ok', '!']);
  });
});
