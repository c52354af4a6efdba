import { BpeTokenizer } from './bpe.js';
import { ByteTokenizer } from './byte-tokenizer.js';
import type { Tokenizer, TokenizerSpec } from './tokenizer.js';

export * from './tokenizer.js';
export { BpeTokenizer, trainBpe, splitWords } from './bpe.js';
export { ByteTokenizer } from './byte-tokenizer.js';

export function tokenizerFromSpec(spec: TokenizerSpec): Tokenizer {
  if (spec.kind === 'byte') return new ByteTokenizer();
  if (spec.kind === 'bpe' && Array.isArray(spec.merges)) return new BpeTokenizer(spec.merges);
  throw new Error(`Unknown tokenizer: ${JSON.stringify(spec).slice(0, 100)}`);
}
