// Tokenizers: byte-level by default (any language, no unknown tokens), or byte-level BPE trained on
// the user's text and stored with the model. Every token knows the character offset it starts at,
// so per-token numbers (surprise, attention) map back onto the text.

export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<sep>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];
export const BYTE_VOCAB = 256;
/** ids 0..255 are bytes, then the special tokens, then BPE merges (if any) */
export const SPECIAL_BASE = BYTE_VOCAB;
export const FIRST_MERGE_ID = SPECIAL_BASE + SPECIAL_TOKENS.length;

export interface Encoded {
  ids: Int32Array;
  /** UTF-16 offset in the text of the character each token starts in */
  offsets: Int32Array;
}

export interface TokenizerSpec {
  kind: 'byte' | 'bpe';
  /** BPE only: merges in rank order, each a pair of token ids */
  merges?: Array<[number, number]>;
}

export interface StreamDecoder {
  /** text completed by this token (empty while a UTF-8 sequence is incomplete) */
  push(id: number): string;
  flush(): string;
}

export interface Tokenizer {
  readonly spec: TokenizerSpec;
  readonly vocabSize: number;
  encode(text: string): Encoded;
  decode(ids: ArrayLike<number>): string;
  streamDecoder(): StreamDecoder;
  special(token: SpecialToken): number;
  /** the bytes a token stands for (empty for special tokens) */
  bytesOf(id: number): Uint8Array;
}

export function specialId(token: SpecialToken): number {
  return SPECIAL_BASE + SPECIAL_TOKENS.indexOf(token);
}

/** UTF-8 bytes of a string with, for each byte, the UTF-16 offset of the character it encodes. */
export function utf8WithOffsets(text: string): { bytes: Uint8Array; offsets: Int32Array } {
  const bytes = new TextEncoder().encode(text);
  const offsets = new Int32Array(bytes.length);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i)!;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) offsets[b++] = i;
    if (c >= 0x10000) i++; // a surrogate pair: one code point, two UTF-16 units
  }
  return { bytes, offsets };
}

export function makeStreamDecoder(bytesOf: (id: number) => Uint8Array): StreamDecoder {
  const decoder = new TextDecoder('utf-8');
  return {
    push: (id) => decoder.decode(bytesOf(id), { stream: true }),
    flush: () => decoder.decode(),
  };
}
