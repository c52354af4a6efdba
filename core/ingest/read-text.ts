// Read a whole text file into a string with the same encoding detection as the importer
// (for training data, which is read at once rather than streamed into the library).
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { createDecoder, NewlineNormalizer } from './decode.js';
import { detectLegacyEncodingAfterAscii, junkRatio, notText, sniffText } from './sniff.js';

export const MAX_TRAINING_FILE_BYTES = 512 * 1024 * 1024;

export function readTextFile(file: string): string {
  const name = path.basename(file);
  const size = fs.statSync(file).size;
  if (size === 0) throw new ApiError('empty_file', `${name} is empty.`);
  if (size > MAX_TRAINING_FILE_BYTES) throw new ApiError('too_large', `${name} is larger than ${MAX_TRAINING_FILE_BYTES / 1024 ** 2} MB.`, 'Split it into smaller files.');
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
