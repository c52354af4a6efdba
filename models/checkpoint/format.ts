// The Titans Reader checkpoint file: one self-describing, versioned binary format.
//
// Layout (all integers little-endian):
//   0   8 bytes  magic "TITANSRD"
//   8   uint32   format version
//   12  uint32   header length H (bytes of UTF-8 JSON)
//   16  H bytes  JSON header {kind, version, createdAt, config, tokenizer, meta, dataLength, tensors}
//   ... zero padding to a multiple of 64: the data section starts at D = align64(16 + H)
//   D   tensor data; each tensor at D + offset, offset a multiple of 64, zero padding between;
//       the section is dataLength bytes long (a multiple of 64)
//   end uint32   CRC-32 (IEEE, as zlib) of every byte before it
// In every version the file starts with the magic and version and ends with the CRC.

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from './float16.js';

export const CHECKPOINT_MAGIC = 'TITANSRD';
/** the newest format version this code reads and the one it writes */
export const CHECKPOINT_FORMAT_VERSION = 1;
export const CHECKPOINT_ALIGN = 64;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type CheckpointKind = 'model' | 'memory-state' | 'optimizer' | 'surprise-trace';
/** how a tensor is stored in the file */
export type StorageDType = 'float32' | 'int32' | 'float16' | 'uint8' | 'uint16';

export interface CheckpointTensor {
  name: string;
  shape: number[];
  /** values: float32 and float16 tensors decode to a Float32Array, int32, uint8 and uint16 to an Int32Array */
  data: Float32Array | Int32Array;
  /** storage; default float32 for a Float32Array, int32 for an Int32Array. 'float16' rounds to
   * nearest even on write (a Float32Array only) and decodes back to float32; 'uint8' and 'uint16'
   * store an Int32Array whose values must fit (small codes: surprise traces) */
  dtype?: StorageDType;
}

export interface Checkpoint {
  kind: CheckpointKind;
  /** format version (set by decode; encode always writes CHECKPOINT_FORMAT_VERSION) */
  version?: number;
  /** ISO time; encode fills it in when absent */
  createdAt?: string;
  config?: JsonValue;
  tokenizer?: JsonValue;
  meta?: JsonValue;
  tensors: CheckpointTensor[];
}

export interface TensorEntry {
  name: string;
  dtype: StorageDType;
  shape: number[];
  /** from the start of the data section, a multiple of 64 */
  offset: number;
  byteLength: number;
}

export interface CheckpointHeader {
  kind: CheckpointKind;
  version: number;
  createdAt: string;
  config: JsonValue;
  tokenizer: JsonValue;
  meta: JsonValue;
  dataLength: number;
  tensors: TensorEntry[];
}

export type CheckpointErrorCode =
  | 'bad-magic'
  | 'newer-version'
  | 'truncated'
  | 'crc-mismatch'
  | 'bad-header'
  | 'out-of-bounds'
  | 'invalid-input';

export class CheckpointError extends Error {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

// ---------------------------------------------------------------- CRC-32

// slice-by-8 tables: T[k][b] is the CRC of byte b followed by k zero bytes
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, the zlib/PNG one); pass a previous result as `crc` to continue */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const T = CRC_TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i < n && (bytes.byteOffset + i) % 4 !== 0; i++) c = T[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  if (LITTLE_ENDIAN && (bytes.byteOffset + i) % 4 === 0) {
    const words = Math.floor((n - i) / 8);
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words * 2);
    for (let w = 0; w < u32.length; w += 2) {
      const a = u32[w]! ^ c;
      const b = u32[w + 1]!;
      c =
        T[1792 + (a & 0xff)]! ^
        T[1536 + ((a >>> 8) & 0xff)]! ^
        T[1280 + ((a >>> 16) & 0xff)]! ^
        T[1024 + (a >>> 24)]! ^
        T[768 + (b & 0xff)]! ^
        T[512 + ((b >>> 8) & 0xff)]! ^
        T[256 + ((b >>> 16) & 0xff)]! ^
        T[b >>> 24]!;
    }
    i += words * 8;
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------- encode

const align = (n: number) => Math.ceil(n / CHECKPOINT_ALIGN) * CHECKPOINT_ALIGN;
const MAGIC_BYTES = new TextEncoder().encode(CHECKPOINT_MAGIC);
const PREFIX = 16;
const KINDS: readonly CheckpointKind[] = ['model', 'memory-state', 'optimizer', 'surprise-trace'];
const DTYPES: readonly StorageDType[] = ['float32', 'int32', 'float16', 'uint8', 'uint16'];
const BYTES: Record<StorageDType, number> = { float32: 4, int32: 4, float16: 2, uint8: 1, uint16: 2 };
const INTEGER: readonly StorageDType[] = ['int32', 'uint8', 'uint16'];
const UNSIGNED_MAX: Partial<Record<StorageDType, number>> = { uint8: 0xff, uint16: 0xffff };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** a tensor's values from its raw (host-order) bytes, per storage dtype */
const DECODE: Record<StorageDType, (raw: Uint8Array, n: number) => Float32Array | Int32Array> = {
  float32: (raw, n) => new Float32Array(raw.buffer, 0, n),
  int32: (raw, n) => new Int32Array(raw.buffer, 0, n),
  float16: (raw, n) => float16ArrayToFloat32(new Uint16Array(raw.buffer, 0, n)),
  uint8: (raw) => Int32Array.from(raw),
  uint16: (raw, n) => Int32Array.from(new Uint16Array(raw.buffer, 0, n)),
};

function storageOf(t: CheckpointTensor): StorageDType {
  const isF = t.data instanceof Float32Array;
  const isI = t.data instanceof Int32Array;
  if (!isF && !isI) throw new CheckpointError('invalid-input', `tensor "${t.name}": data must be a Float32Array or Int32Array`);
  const d = t.dtype ?? (isF ? 'float32' : 'int32');
  if (!DTYPES.includes(d)) throw new CheckpointError('invalid-input', `tensor "${t.name}": unknown dtype ${String(d)}`);
  if (INTEGER.includes(d) !== isI) {
    throw new CheckpointError('invalid-input', `tensor "${t.name}": dtype ${d} does not match its ${t.data.constructor.name}`);
  }
  const max = UNSIGNED_MAX[d];
  if (max !== undefined) {
    const bad = t.data.findIndex((v) => v < 0 || v > max);
    if (bad >= 0) throw new CheckpointError('invalid-input', `tensor "${t.name}": value ${t.data[bad]} at ${bad} does not fit ${d}`);
  }
  return d;
}

function sizeOf(name: string, shape: number[]): number {
  if (!Array.isArray(shape) || shape.some((s) => !Number.isSafeInteger(s) || s < 0)) {
    throw new CheckpointError('invalid-input', `tensor "${name}": bad shape ${JSON.stringify(shape)}`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

/** raw little-endian bytes of a tensor in its storage dtype */
function tensorBytes(t: CheckpointTensor, dtype: StorageDType): Uint8Array {
  if (dtype === 'uint8') return Uint8Array.from(t.data);
  if (dtype === 'float16' || dtype === 'uint16') {
    const h = dtype === 'float16' ? float32ArrayToFloat16(t.data as Float32Array) : Uint16Array.from(t.data);
    if (!LITTLE_ENDIAN) byteSwap(new Uint8Array(h.buffer), 2);
    return new Uint8Array(h.buffer);
  }
  const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (LITTLE_ENDIAN) return view;
  const copy = view.slice();
  byteSwap(copy, 4);
  return copy;
}

function byteSwap(b: Uint8Array, width: number): void {
  for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
}

/** encode a checkpoint; the result round-trips exactly through decodeCheckpoint (float32 and
 * int32 bit for bit; float16 tensors as their float16 rounding) */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  if (!KINDS.includes(c.kind)) throw new CheckpointError('invalid-input', `unknown checkpoint kind ${String(c.kind)}`);
  const names = new Set<string>();
  const entries: TensorEntry[] = [];
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const t of c.tensors) {
    if (typeof t.name !== 'string' || t.name.length === 0) throw new CheckpointError('invalid-input', 'tensor without a name');
    if (names.has(t.name)) throw new CheckpointError('invalid-input', `duplicate tensor name "${t.name}"`);
    names.add(t.name);
    const dtype = storageOf(t);
    const n = sizeOf(t.name, t.shape);
    if (n !== t.data.length) {
      throw new CheckpointError('invalid-input', `tensor "${t.name}": shape [${t.shape.join(', ')}] has ${n} elements, data has ${t.data.length}`);
    }
    const bytes = tensorBytes(t, dtype);
    entries.push({ name: t.name, dtype, shape: [...t.shape], offset, byteLength: bytes.length });
    payloads.push(bytes);
    offset = align(offset + bytes.length);
  }
  const header: CheckpointHeader = {
    kind: c.kind,
    version: CHECKPOINT_FORMAT_VERSION,
    createdAt: c.createdAt ?? new Date().toISOString(),
    config: c.config ?? null,
    tokenizer: c.tokenizer ?? null,
    meta: c.meta ?? null,
    dataLength: offset,
    tensors: entries,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align(PREFIX + json.length);
  const total = dataStart + offset + 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC_BYTES, 0);
  dv.setUint32(8, CHECKPOINT_FORMAT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, PREFIX);
  entries.forEach((e, i) => out.set(payloads[i]!, dataStart + e.offset));
  dv.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

// ---------------------------------------------------------------- decode

function parseHeader(bytes: Uint8Array, headerLength: number): CheckpointHeader {
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)));
  } catch (e) {
    throw new CheckpointError('bad-header', `checkpoint header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const bad = (why: string) => new CheckpointError('bad-header', `checkpoint header: ${why}`);
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw bad('not an object');
  const o = h as Record<string, unknown>;
  if (!KINDS.includes(o.kind as CheckpointKind)) throw bad(`unknown kind ${JSON.stringify(o.kind)}`);
  if (!Number.isSafeInteger(o.dataLength) || (o.dataLength as number) < 0) throw bad('bad dataLength');
  if (!Array.isArray(o.tensors)) throw bad('no tensor list');
  for (const t of o.tensors as unknown[]) {
    const e = t as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string') throw bad('tensor entry without a name');
    if (!DTYPES.includes(e.dtype as StorageDType)) throw bad(`tensor "${e.name}": unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((s) => !Number.isSafeInteger(s) || (s as number) < 0)) {
      throw bad(`tensor "${e.name}": bad shape`);
    }
    if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.byteLength)) throw bad(`tensor "${e.name}": bad offset/byteLength`);
  }
  return o as unknown as CheckpointHeader;
}

/** read only the header (no tensor data, no CRC check): for listing a checkpoint cheaply */
export function readCheckpointHeader(bytes: Uint8Array): CheckpointHeader {
  checkPrefix(bytes);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(12, true);
  if (PREFIX + headerLength + 4 > bytes.length) throw truncated(bytes.length, PREFIX + headerLength + 4);
  return parseHeader(bytes, headerLength);
}

const truncated = (got: number, want: number) =>
  new CheckpointError('truncated', `checkpoint is truncated: ${got} bytes, expected ${want === 0 ? 'more' : want}`);

/** magic and version; returns the version */
function checkPrefix(bytes: Uint8Array): number {
  if (bytes.length < MAGIC_BYTES.length || MAGIC_BYTES.some((b, i) => bytes[i] !== b)) {
    if (bytes.length < MAGIC_BYTES.length && MAGIC_BYTES.subarray(0, bytes.length).every((b, i) => bytes[i] === b)) {
      throw truncated(bytes.length, 0);
    }
    throw new CheckpointError('bad-magic', `not a Titans Reader checkpoint (the file does not start with "${CHECKPOINT_MAGIC}")`);
  }
  if (bytes.length < PREFIX + 4) throw truncated(bytes.length, 0);
  const version = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (version > CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(
      'newer-version',
      `checkpoint was written by a newer version of Titans Reader (format ${version}; this version reads up to ${CHECKPOINT_FORMAT_VERSION}): update the app`,
    );
  }
  if (version === 0) throw new CheckpointError('bad-header', 'checkpoint format version 0 is invalid');
  return version;
}

/** decode and validate a checkpoint: magic, version, length, CRC, header, bounds of every tensor */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const version = checkPrefix(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = dv.getUint32(12, true);
  const stored = dv.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    // tell truncation apart from corruption when the header is intact
    let expected = -1;
    try {
      if (PREFIX + headerLength <= bytes.length) {
        const h = parseHeader(bytes, headerLength);
        expected = align(PREFIX + headerLength) + h.dataLength + 4;
      }
    } catch {
      expected = -1;
    }
    if (expected > bytes.length || (expected < 0 && PREFIX + headerLength + 4 > bytes.length)) {
      throw truncated(bytes.length, Math.max(expected, 0));
    }
    throw new CheckpointError(
      'crc-mismatch',
      `checkpoint is corrupted: CRC-32 ${actual.toString(16).padStart(8, '0')} does not match the stored ${stored.toString(16).padStart(8, '0')}`,
    );
  }
  if (PREFIX + headerLength + 4 > bytes.length) throw truncated(bytes.length, PREFIX + headerLength + 4);
  const header = parseHeader(bytes, headerLength);
  const dataStart = align(PREFIX + headerLength);
  const expected = dataStart + header.dataLength + 4;
  if (bytes.length !== expected) {
    if (bytes.length < expected) throw truncated(bytes.length, expected);
    throw new CheckpointError('out-of-bounds', `checkpoint has ${bytes.length - expected} unexpected bytes after its data`);
  }
  const tensors: CheckpointTensor[] = [];
  const seen = new Set<string>();
  for (const e of header.tensors) {
    if (seen.has(e.name)) throw new CheckpointError('bad-header', `duplicate tensor "${e.name}"`);
    seen.add(e.name);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.byteLength !== n * BYTES[e.dtype]) {
      throw new CheckpointError('out-of-bounds', `tensor "${e.name}": byteLength ${e.byteLength} does not match shape [${e.shape.join(', ')}] of ${e.dtype}`);
    }
    if (e.offset < 0 || e.offset % CHECKPOINT_ALIGN !== 0 || e.offset + e.byteLength > header.dataLength) {
      throw new CheckpointError('out-of-bounds', `tensor "${e.name}": bytes ${e.offset}..${e.offset + e.byteLength} lie outside the data section (${header.dataLength} bytes) or are misaligned`);
    }
    // copy: the result owns its memory (the input buffer may be reused or be a file view)
    // (a fresh Uint8Array: Buffer.prototype.slice would return a view of a shared pool)
    const raw = new Uint8Array(e.byteLength);
    raw.set(bytes.subarray(dataStart + e.offset, dataStart + e.offset + e.byteLength));
    if (!LITTLE_ENDIAN) byteSwap(raw, BYTES[e.dtype]);
    const data = DECODE[e.dtype](raw, n);
    tensors.push({ name: e.name, shape: [...e.shape], data, dtype: e.dtype });
  }
  return {
    kind: header.kind,
    version,
    createdAt: String(header.createdAt),
    config: header.config ?? null,
    tokenizer: header.tokenizer ?? null,
    meta: header.meta ?? null,
    tensors,
  };
}

// ---------------------------------------------------------------- files

function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function fsyncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported everywhere (Windows): the rename is still atomic
  }
}

/** write bytes to `path` atomically: a temp file in the same folder, fsync, rename over `path`;
 * a crash or cancel at any point leaves either the old file or the new one, never a mix */
export function writeFileAtomicSync(path: string, bytes: Uint8Array): void {
  const tmp = tempPath(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDirSync(dirname(path));
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempPath(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  fsyncDirSync(dirname(path));
}

export function writeCheckpointFileSync(path: string, c: Checkpoint): void {
  writeFileAtomicSync(path, encodeCheckpoint(c));
}

export async function writeCheckpointFile(path: string, c: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(c));
}

export function readCheckpointFileSync(path: string): Checkpoint {
  return decodeCheckpoint(readFileSync(path));
}

export async function readCheckpointFile(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readFile(path));
}
