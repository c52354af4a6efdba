import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT_VERSION,
  type Checkpoint,
  CheckpointError,
  crc32,
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpointFile,
  readCheckpointFileSync,
  readCheckpointHeader,
  writeCheckpointFile,
  writeCheckpointFileSync,
} from '../../../models/checkpoint/format.js';
import { roundToFloat16 } from '../../../models/checkpoint/float16.js';
import { assignCheckpointTensors, checkpointToTensors, tensorsToCheckpoint } from '../../../models/checkpoint/tensors.js';

const F32_BITS = [
  0x00000000, 0x80000000, // +0, -0
  0x7f800000, 0xff800000, // +-Infinity
  0x00000001, 0x807fffff, // smallest denormal, largest negative denormal
  0x7f7fffff, 0x3f800000, 0xbeaaaaab, 0x00800000,
];

function sample(): Checkpoint {
  const bits = new Uint32Array([...F32_BITS, 0x7fc00000, 0xffa00001]); // two NaNs last
  const f = new Float32Array(bits.buffer);
  return {
    kind: 'model',
    createdAt: '2026-01-02T03:04:05.000Z',
    config: { arch: 'mac', dim: 128, nested: { list: [1, 2.5, null, 'x'] } },
    tokenizer: { kind: 'bpe', merges: [[104, 101], [256, 108]] },
    meta: { note: 'héllo ✓', step: 7 },
    tensors: [
      { name: 'w', shape: [3, 4], data: f },
      { name: 'ids', shape: [5], data: new Int32Array([0, -1, 2147483647, -2147483648, 42]) },
      { name: 'scalar', shape: [], data: new Float32Array([Math.PI]) },
      { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
      { name: 'odd', shape: [7], data: new Float32Array([1, 2, 3, 4, 5, 6, 7]) },
    ],
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return (e as CheckpointError).code;
  }
  return 'no error';
}

function setVersion(bytes: Uint8Array, version: number, fixCrc: boolean): Uint8Array {
  const b = bytes.slice();
  const dv = new DataView(b.buffer);
  dv.setUint32(8, version, true);
  if (fixCrc) dv.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

describe('checkpoint format', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    // the fast path (8 bytes at a time) agrees with the bitwise definition at every alignment,
    // length, and when continued
    const bitwise = (b: Uint8Array) => {
      let c = 0xffffffff;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    const data = new Uint8Array(301).map((_, i) => (i * 7919 + 13) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (const len of [0, 1, 7, 8, 9, 15, 16, 17, 100, 292 - start]) {
        const v = data.subarray(start, start + len);
        expect(crc32(v), `${start}+${len}`).toBe(bitwise(v));
      }
    }
    expect(crc32(data.subarray(50), crc32(data.subarray(0, 50)))).toBe(bitwise(data));
  });

  it('round-trips exactly: float32 bit patterns (-0, Infinity, denormals), int32, header JSON', () => {
    const c = sample();
    const bytes = encodeCheckpoint(c);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('TITANSRD');
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(CHECKPOINT_FORMAT_VERSION);
    const d = decodeCheckpoint(bytes);
    expect(d.kind).toBe('model');
    expect(d.version).toBe(CHECKPOINT_FORMAT_VERSION);
    expect(d.createdAt).toBe(c.createdAt);
    expect(d.config).toEqual(c.config);
    expect(d.tokenizer).toEqual(c.tokenizer);
    expect(d.meta).toEqual(c.meta);
    expect(d.tensors.map((t) => t.name)).toEqual(['w', 'ids', 'scalar', 'empty', 'odd']);
    const w = d.tensors[0]!;
    expect(w.shape).toEqual([3, 4]);
    expect(w.data).toBeInstanceOf(Float32Array);
    const got = new Uint32Array(w.data.buffer, w.data.byteOffset, 12);
    for (let i = 0; i < F32_BITS.length; i++) expect(got[i], `element ${i}`).toBe(F32_BITS[i]);
    expect(Number.isNaN(w.data[10]!) && Number.isNaN(w.data[11]!)).toBe(true);
    expect(Object.is(w.data[1], -0)).toBe(true);
    expect(d.tensors[1]!.data).toEqual(new Int32Array([0, -1, 2147483647, -2147483648, 42]));
    expect(d.tensors[1]!.data).toBeInstanceOf(Int32Array);
    expect(d.tensors[2]!.shape).toEqual([]);
    expect(d.tensors[2]!.data[0]).toBe(Math.fround(Math.PI));
    expect(d.tensors[3]!.shape).toEqual([0, 3]);
    expect(d.tensors[3]!.data.length).toBe(0);
    expect(Array.from(d.tensors[4]!.data)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // re-encoding the decoded checkpoint gives the same bytes
    expect(encodeCheckpoint(d)).toEqual(bytes);
    // every tensor starts on a 64-byte boundary of the file
    const h = readCheckpointHeader(bytes);
    const headerLen = new DataView(bytes.buffer).getUint32(12, true);
    const dataStart = Math.ceil((16 + headerLen) / 64) * 64;
    for (const e of h.tensors) expect((dataStart + e.offset) % 64).toBe(0);
    expect(bytes.length).toBe(dataStart + h.dataLength + 4);
  });

  it('decodes from a view at an odd offset of a larger buffer', () => {
    const bytes = encodeCheckpoint(sample());
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const d = decodeCheckpoint(big.subarray(3));
    expect(Array.from(d.tensors[4]!.data)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('stores float16 when asked: half the bytes, values rounded to nearest even, decoded as float32', () => {
    const n = 1000;
    const x = new Float32Array(n).map((_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
    x[0] = 65520; // rounds to Infinity
    x[1] = -0;
    const full = encodeCheckpoint({ kind: 'memory-state', tensors: [{ name: 's', shape: [n], data: x }] });
    const half = encodeCheckpoint({ kind: 'memory-state', tensors: [{ name: 's', shape: [n], data: x, dtype: 'float16' }] });
    expect(half.length).toBeLessThan(full.length * 0.6);
    const d = decodeCheckpoint(half).tensors[0]!;
    expect(d.dtype).toBe('float16');
    expect(d.data).toEqual(roundToFloat16(x));
    expect(d.data[0]).toBe(Infinity);
    expect(Object.is(d.data[1], -0)).toBe(true);
    // float16 values survive a second round exactly
    expect(decodeCheckpoint(encodeCheckpoint(decodeCheckpoint(half))).tensors[0]!.data).toEqual(d.data);
  });

  it('stores small integer codes as uint8 and uint16: exact, 1 and 2 bytes each, out-of-range refused', () => {
    const n = 4096;
    const a = new Int32Array(n).map((_, i) => (i * 37) % 256);
    const b = new Int32Array(n).map((_, i) => (i * 7919) % 65536);
    const wide = encodeCheckpoint({ kind: 'surprise-trace', tensors: [{ name: 'a', shape: [n], data: a }, { name: 'b', shape: [n], data: b }] });
    const small = encodeCheckpoint({ kind: 'surprise-trace', tensors: [{ name: 'a', shape: [n], data: a, dtype: 'uint8' }, { name: 'b', shape: [n], data: b, dtype: 'uint16' }] });
    expect(wide.length - small.length).toBeGreaterThanOrEqual(n * 3 + n * 2 - 256);
    const [da, db] = decodeCheckpoint(small).tensors;
    expect(da!.dtype).toBe('uint8');
    expect(da!.data).toBeInstanceOf(Int32Array);
    expect(da!.data).toEqual(a);
    expect(db!.dtype).toBe('uint16');
    expect(db!.data).toEqual(b);
    expect(() => encodeCheckpoint({ kind: 'surprise-trace', tensors: [{ name: 'a', shape: [2], data: new Int32Array([1, 256]), dtype: 'uint8' }] })).toThrow(/value 256 at 1 does not fit uint8/);
    expect(() => encodeCheckpoint({ kind: 'surprise-trace', tensors: [{ name: 'a', shape: [1], data: new Int32Array([-1]), dtype: 'uint16' }] })).toThrow(/does not fit uint16/);
    expect(() => encodeCheckpoint({ kind: 'surprise-trace', tensors: [{ name: 'a', shape: [1], data: new Float32Array([1]), dtype: 'uint8' }] })).toThrow(/does not match/);
  });

  it('rejects a truncated file', () => {
    const bytes = encodeCheckpoint(sample());
    expect(code(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 1)))).toBe('truncated');
    expect(code(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 100)))).toBe('truncated');
    expect(code(() => decodeCheckpoint(bytes.subarray(0, 40)))).toBe('truncated');
    expect(code(() => decodeCheckpoint(bytes.subarray(0, 12)))).toBe('truncated');
    expect(code(() => decodeCheckpoint(bytes.subarray(0, 5)))).toBe('truncated');
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 100))).toThrow(/truncated/);
  });

  it('rejects a flipped byte anywhere in the header or data (CRC)', () => {
    const bytes = encodeCheckpoint(sample());
    const headerLen = new DataView(bytes.buffer).getUint32(12, true);
    const positions = [20, 16 + Math.floor(headerLen / 2), 16 + headerLen - 2, bytes.length - 30, bytes.length - 4];
    for (const p of positions) {
      const b = bytes.slice();
      b[p]! ^= 0x10;
      expect(code(() => decodeCheckpoint(b)), `byte ${p}`).toBe('crc-mismatch');
    }
    const b = bytes.slice();
    b[bytes.length - 30]! ^= 1;
    expect(() => decodeCheckpoint(b)).toThrow(/corrupted/);
  });

  it('rejects a wrong magic', () => {
    const b = encodeCheckpoint(sample());
    b[0] = 'X'.charCodeAt(0);
    expect(code(() => decodeCheckpoint(b))).toBe('bad-magic');
    expect(code(() => decodeCheckpoint(new TextEncoder().encode('{"not":"a checkpoint"}')))).toBe('bad-magic');
    expect(() => decodeCheckpoint(new Uint8Array(0))).toThrow(/not a Titans Reader checkpoint|truncated/);
  });

  it('rejects a newer format version with a clear message', () => {
    const bytes = encodeCheckpoint(sample());
    for (const fix of [true, false]) {
      const b = setVersion(bytes, CHECKPOINT_FORMAT_VERSION + 1, fix);
      expect(code(() => decodeCheckpoint(b))).toBe('newer-version');
      expect(() => decodeCheckpoint(b)).toThrow(/written by a newer version/);
    }
  });

  it('rejects a header whose tensors lie outside the data (valid CRC)', () => {
    // hand-build a file with a lying header and a correct CRC
    const header = JSON.stringify({
      kind: 'model', version: 1, createdAt: 'x', config: null, tokenizer: null, meta: null, dataLength: 64,
      tensors: [{ name: 'a', dtype: 'float32', shape: [32], offset: 0, byteLength: 128 }],
    });
    const json = new TextEncoder().encode(header);
    const start = Math.ceil((16 + json.length) / 64) * 64;
    const b = new Uint8Array(start + 64 + 4);
    b.set(new TextEncoder().encode('TITANSRD'));
    const dv = new DataView(b.buffer);
    dv.setUint32(8, 1, true);
    dv.setUint32(12, json.length, true);
    b.set(json, 16);
    dv.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
    expect(code(() => decodeCheckpoint(b))).toBe('out-of-bounds');
  });

  it('refuses bad input to encode', () => {
    expect(code(() => encodeCheckpoint({ kind: 'model', tensors: [{ name: 'a', shape: [2, 2], data: new Float32Array(3) }] }))).toBe('invalid-input');
    expect(code(() => encodeCheckpoint({ kind: 'model', tensors: [{ name: 'a', shape: [1], data: new Int32Array(1), dtype: 'float16' }] }))).toBe('invalid-input');
    const t = { name: 'a', shape: [1], data: new Float32Array(1) };
    expect(code(() => encodeCheckpoint({ kind: 'model', tensors: [t, t] }))).toBe('invalid-input');
  });
});

describe('checkpoint files', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'titans-ckpt-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes atomically (temp + rename), overwrites, leaves no temp files', async () => {
    const p = join(dir, 'a.ckpt');
    writeCheckpointFileSync(p, sample());
    expect(readCheckpointFileSync(p).meta).toEqual({ note: 'héllo ✓', step: 7 });
    await writeCheckpointFile(p, { ...sample(), meta: { step: 8 } });
    const back = await readCheckpointFile(p);
    expect(back.meta).toEqual({ step: 8 });
    // tensors read from a file (a Node Buffer, possibly pooled) are exact and own their memory
    const want = sample().tensors;
    for (const r of [back, readCheckpointFileSync(p), decodeCheckpoint(Buffer.from(encodeCheckpoint(sample())))]) {
      r.tensors.forEach((t, i) => {
        expect(t.data.byteOffset).toBe(0);
        expect(t.data.buffer.byteLength).toBe(t.data.byteLength);
        expect(new Uint8Array(t.data.buffer)).toEqual(new Uint8Array(want[i]!.data.buffer));
      });
    }
    expect(readdirSync(dir)).toEqual(['a.ckpt']);
    await expect(writeCheckpointFile(join(dir, 'missing', 'b.ckpt'), sample())).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['a.ckpt']);
  });

  it('reading a damaged file names the problem', () => {
    const p = join(dir, 'c.ckpt');
    writeCheckpointFileSync(p, sample());
    const b = readFileSync(p);
    writeFileSync(p, b.subarray(0, b.length - 64));
    expect(() => readCheckpointFileSync(p)).toThrow(/truncated/);
  });
});

describe('tensor records <-> checkpoint tensors', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('round-trips variables and assigns into existing ones with checks', () => {
    const a = { w: tf.variable(tf.tensor2d([[1, -0], [Infinity, 1e-40]])), ids: tf.variable(tf.tensor1d([3, -4], 'int32')) };
    const enc = decodeCheckpoint(encodeCheckpoint({ kind: 'model', tensors: tensorsToCheckpoint(a) }));
    const b = { w: tf.variable(tf.zeros([2, 2])), ids: tf.variable(tf.zeros([2], 'int32')) };
    assignCheckpointTensors(b, enc.tensors);
    expect(b.w.dataSync()).toEqual(a.w.dataSync());
    expect(Object.is(b.w.dataSync()[1], -0)).toBe(true);
    expect(Array.from(b.ids.dataSync())).toEqual([3, -4]);
    expect(b.ids.dtype).toBe('int32');
    const fresh = checkpointToTensors(enc.tensors);
    expect(fresh.w!.shape).toEqual([2, 2]);
    expect(fresh.ids!.dtype).toBe('int32');

    const before = tf.memory().numTensors;
    const v = (shape: number[]) => tf.tidy(() => tf.variable(tf.zeros(shape))); // the initial value is freed
    const c = { w: v([2, 2]), extra: v([1]) };
    expect(() => assignCheckpointTensors(c, enc.tensors)).toThrow(/missing from the checkpoint: extra.*not in the model: ids/);
    expect(c.w.dataSync()).toEqual(new Float32Array(4)); // nothing assigned
    const d = { w: v([4]) };
    expect(() => assignCheckpointTensors(d, enc.tensors, { allowExtra: true })).toThrow(/"w": checkpoint shape \[2, 2\] vs variable \[4\]/);
    assignCheckpointTensors({ w: c.w }, enc.tensors, { allowExtra: true });
    expect(c.w.dataSync()).toEqual(a.w.dataSync());
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([a.w, a.ids, b.w, b.ids, c.w, c.extra, d.w, ...Object.values(fresh)]);
  });

  it('stores chosen tensors as float16', () => {
    const x = tf.tensor1d([0.1, 1 / 3]);
    const t = tensorsToCheckpoint({ x, y: x }, { float16: (n) => n === 'x', prefix: 'p/' });
    expect(t.map((e) => [e.name, e.dtype])).toEqual([['p/x', 'float16'], ['p/y', 'float32']]);
    const d = decodeCheckpoint(encodeCheckpoint({ kind: 'memory-state', tensors: t }));
    expect(Array.from(d.tensors[0]!.data)).toEqual([0.0999755859375, 0.333251953125]);
    x.dispose();
  });
});
