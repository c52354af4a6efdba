// Byte-level BPE: trained here in TypeScript (no maintained pure-JS trainer exists), stored with
// the model as its merge list. Text is split into words (letters with their leading space, digits,
// punctuation), and merges never cross a word boundary.
import { FIRST_MERGE_ID, makeStreamDecoder, specialId, utf8WithOffsets, type Encoded, type Tokenizer, type TokenizerSpec } from './tokenizer.js';

/** Unicode-aware pre-tokenization in the style of GPT-2. */
const WORD = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function splitWords(text: string): Array<{ word: string; start: number }> {
  const out: Array<{ word: string; start: number }> = [];
  for (const m of text.matchAll(WORD)) out.push({ word: m[0], start: m.index });
  return out;
}

const EMPTY = new Uint8Array(0);

export class BpeTokenizer implements Tokenizer {
  readonly spec: TokenizerSpec;
  readonly vocabSize: number;
  private readonly ranks = new Map<number, number>(); // pair key -> merge rank
  private readonly tokenBytes: Uint8Array[] = [];
  private readonly cache = new Map<string, Int32Array>();

  constructor(merges: Array<[number, number]>) {
    this.spec = { kind: 'bpe', merges };
    this.vocabSize = FIRST_MERGE_ID + merges.length;
    for (let i = 0; i < 256; i++) this.tokenBytes.push(Uint8Array.of(i));
    for (let i = 256; i < FIRST_MERGE_ID; i++) this.tokenBytes.push(EMPTY);
    merges.forEach(([a, b], rank) => {
      if (a >= FIRST_MERGE_ID + rank || b >= FIRST_MERGE_ID + rank || (a >= 256 && a < FIRST_MERGE_ID) || (b >= 256 && b < FIRST_MERGE_ID)) {
        throw new Error(`BPE merge ${rank} refers to an unknown token`);
      }
      this.ranks.set(pairKey(a, b), rank);
      const bytes = new Uint8Array(this.tokenBytes[a]!.length + this.tokenBytes[b]!.length);
      bytes.set(this.tokenBytes[a]!);
      bytes.set(this.tokenBytes[b]!, this.tokenBytes[a]!.length);
      this.tokenBytes.push(bytes);
    });
  }

  encode(text: string): Encoded {
    const ids: number[] = [];
    const offsets: number[] = [];
    for (const { word, start } of splitWords(text)) {
      const { bytes, offsets: byteOffsets } = utf8WithOffsets(word);
      const tokens = this.encodeWord(word, bytes);
      let b = 0;
      for (const t of tokens) {
        ids.push(t);
        offsets.push(start + byteOffsets[b]!);
        b += this.tokenBytes[t]!.length;
      }
    }
    return { ids: Int32Array.from(ids), offsets: Int32Array.from(offsets) };
  }

  private encodeWord(word: string, bytes: Uint8Array): Int32Array {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let parts = Array.from(bytes);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(pairKey(parts[i]!, parts[i + 1]!));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      parts = mergePair(parts, parts[best]!, parts[best + 1]!, FIRST_MERGE_ID + bestRank);
    }
    const out = Int32Array.from(parts);
    if (this.cache.size < 100_000) this.cache.set(word, out);
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const chunks: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf(ids[i]!);
      chunks.push(b);
      n += b.length;
    }
    const all = new Uint8Array(n);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return new TextDecoder('utf-8').decode(all);
  }

  streamDecoder() {
    return makeStreamDecoder((id) => this.bytesOf(id));
  }

  special = specialId;

  bytesOf(id: number): Uint8Array {
    return this.tokenBytes[id] ?? EMPTY;
  }
}

/** Replace every adjacent (a, b), left to right, by `id`. */
function mergePair(parts: readonly number[], a: number, b: number, id: number): number[] {
  const next: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
      next.push(id);
      i++;
    } else next.push(parts[i]!);
  }
  return next;
}

function pairKey(a: number, b: number): number {
  return a * 1_048_576 + b; // ids stay far below 2^20
}

/**
 * Learn `numMerges` merges from `texts`: repeatedly merge the most frequent adjacent pair, keeping
 * pair counts up to date incrementally (only the words that contain the merged pair change).
 */
export function trainBpe(texts: Iterable<string>, numMerges: number, opts: { minFrequency?: number } = {}): BpeTokenizer {
  const minFrequency = opts.minFrequency ?? 2;
  const wordCounts = new Map<string, number>();
  for (const text of texts) for (const { word } of splitWords(text)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);

  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(new TextEncoder().encode(w)));
    freq.push(c);
  }
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i]!, w[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[wi]!);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const merges: Array<[number, number]> = [];
  while (merges.length < numMerges) {
    let bestKey = -1;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && k < bestKey)) {
        bestCount = c;
        bestKey = k;
      }
    }
    if (bestKey < 0 || bestCount < minFrequency) break;
    const a = Math.floor(bestKey / 1_048_576);
    const b = bestKey % 1_048_576;
    const id = FIRST_MERGE_ID + merges.length;
    merges.push([a, b]);
    for (const wi of pairWords.get(bestKey) ?? []) {
      addPairs(wi, -1);
      words[wi] = mergePair(words[wi]!, a, b, id);
      addPairs(wi, 1);
    }
    pairCount.delete(bestKey);
    pairWords.delete(bestKey);
  }
  return new BpeTokenizer(merges);
}
