// Read a whole text file into a string with the same encoding detection as the importer
// (for training data, which is read at once rather than streamed into the library).
import fs from 'node:fs';
import path from 'node:path';
import { createDecoder, NewlineNormalizer } from './decode.js';
import { emptyFile, fileTooLarge, MAX_TRAINING_FILE_BYTES } from './limits.js';
import { detectLegacyEncodingAfterAscii, junkRatio, notText, sniffText } from './sniff.js';

export function readTextFile(file: string): string {
  const name = path.basename(file);
  const size = fs.statSync(file).size;
  if (size === 0) throw emptyFile(name);
  if (size > MAX_TRAINING_FILE_BYTES) throw fileTooLarge(name, size, MAX_TRAINING_FILE_BYTES, 'one training file');
  const bytes = fs.readFileSync(file);
  const sniffed = sniffText(bytes.subarray(0, 64 * 1024), name);
  const decode = (encoding: string, skip: number) => {
    const d = createDecoder(encoding);
    const n = new NewlineNormalizer();
    return n.push(d.write(bytes.subarray(skip)) + d.end()) + n.end();
  };
  let text: string;
  try {
    text = decode(sniffed.encoding, sniffed.bomLength);
  } catch {
    const legacy = detectLegacyEncodingAfterAscii(bytes);
    if (!legacy) throw notText(name);
    text = decode(legacy, 0);
  }
  if (junkRatio(text.slice(0, 65536)) > 0.01) throw notText(name);
  return text;
}
