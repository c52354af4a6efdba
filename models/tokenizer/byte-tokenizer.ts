// The default tokenizer: one token per UTF-8 byte (vocabulary 256 + special tokens).
import { FIRST_MERGE_ID, makeStreamDecoder, specialId, utf8WithOffsets, type Encoded, type Tokenizer, type TokenizerSpec } from './tokenizer.js';

const EMPTY = new Uint8Array(0);

export class ByteTokenizer implements Tokenizer {
  readonly spec: TokenizerSpec = { kind: 'byte' };
  readonly vocabSize = FIRST_MERGE_ID;

  encode(text: string): Encoded {
    const { bytes, offsets } = utf8WithOffsets(text);
    return { ids: Int32Array.from(bytes), offsets };
  }

  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i]! < 256) bytes.push(ids[i]!);
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
  }

  streamDecoder() {
    return makeStreamDecoder((id) => this.bytesOf(id));
  }

  special = specialId;

  bytesOf(id: number): Uint8Array {
    return id >= 0 && id < 256 ? Uint8Array.of(id) : EMPTY;
  }
}
