// Models through safetensors: out and back in bit for bit (float32, float16, int32), the same
// logits from the imported model, BF16 and F16 read as float32, a file written the way a PyTorch
// trainer would (Python's header layout) reads, and damaged files are refused with a reason.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../../models/checkpoint/format.js';
import { checkpointToSafetensors, safetensorsToCheckpoint } from '../../../models/checkpoint/safetensors.js';
import { modelConfig } from '../../../models/model/config.js';
import { modelCheckpointFromSafetensors, modelFromCheckpoint, modelToCheckpoint } from '../../../models/model/io.js';
import { TitansModel } from '../../../models/model/model.js';
import { ByteTokenizer } from '../../../models/tokenizer/index.js';
import { tempDir } from '../../fixtures/texts.js';
import { cli } from '../cli/run-cli.js';
import { useBackend } from '../../helpers/models.js';

let dir: string;
beforeAll(async () => {
  await useBackend();
  dir = tempDir('titans-st-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** safetensors bytes from a header object and raw tensor bytes, as Python's writer lays them out */
function build(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips a model bit for bit, and the imported model computes the same logits', () => {
    const model = new TitansModel(modelConfig({ dim: 32, layers: 2, heads: 2, segment: 16, memory: { chunkSize: 8 } }), { seed: 9 });
    const c = modelToCheckpoint(model, new ByteTokenizer().spec, { name: 'st test' });
    c.tensors.push({ name: 'extra.half', shape: [3], data: Float32Array.from([1.5, -2, 0.099975586]), dtype: 'float16' }, { name: 'extra.int', shape: [2], data: Int32Array.from([7, -3]) });
    const back = safetensorsToCheckpoint(checkpointToSafetensors(c));
    expect(back.config).toEqual(c.config);
    expect(back.tokenizer).toEqual(c.tokenizer);
    expect((back.meta as { name: string }).name).toBe('st test');
    for (const t of c.tensors) {
      const u = back.tensors.find((x) => x.name === t.name)!;
      expect(u.shape).toEqual(t.shape);
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    expect(back.tensors.find((x) => x.name === 'extra.half')!.dtype).toBe('float16');
    // the imported model (the extra tensors removed) reads like the original
    back.tensors = back.tensors.filter((t) => !t.name.startsWith('extra.'));
    const { model: imported } = modelFromCheckpoint(modelCheckpointFromSafetensors(checkpointToSafetensors({ ...back, meta: {} } as Checkpoint)));
    const ids = tf.tensor2d([[72, 105, 33, 10, 200, 3]], [1, 6], 'int32');
    const a = model.forward(ids).logits.dataSync();
    const b = imported.forward(ids).logits.dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    tf.dispose(ids);
    model.dispose();
    imported.dispose();
  });

  it('reads F16 and BF16 as float32, as another trainer might write them', () => {
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3555]); // 1, -2, 0.333...
    const bf16 = Uint16Array.from([0x3f80, 0xc040, 0x4049]); // 1, -3, 3.140625
    const data = new Uint8Array(12);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), 6);
    const c = safetensorsToCheckpoint(
      build({ __metadata__: { config: '{"arch":"mac"}', tokenizer: '{"kind":"byte"}' }, a: { dtype: 'F16', shape: [3], data_offsets: [0, 6] }, b: { dtype: 'BF16', shape: [3], data_offsets: [6, 12] } }, data),
    );
    expect(Array.from(c.tensors[0]!.data)).toEqual([1, -2, Math.fround(0.333251953125)]);
    expect(Array.from(c.tensors[1]!.data)).toEqual([1, -3, 3.140625]);
    expect(c.config).toEqual({ arch: 'mac' });
  });

  it('refuses damaged or incomplete files with the reason', () => {
    const meta = { __metadata__: { config: '{}', tokenizer: '{}' } };
    const f32 = new Uint8Array(8);
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(3), /shorter than its 8-byte header length/],
      [build(meta, f32).subarray(0, 20), /header claims/],
      [build({ ...meta, x: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, f32), /dtype F64/],
      [build({ ...meta, x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32), /offsets \[0, 8\] for 3 values/],
      [build({ ...meta, x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32), /overlap/],
      [build({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32), /metadata has no "config"/],
    ];
    for (const [bytes, message] of cases) expect(() => safetensorsToCheckpoint(bytes)).toThrow(message);
    expect(() => modelFromCheckpoint(modelCheckpointFromSafetensors(build({ __metadata__: { config: JSON.stringify(modelConfig({ dim: 32, layers: 1, heads: 2, segment: 16, memory: { chunkSize: 8 } })), tokenizer: '{"kind":"byte"}' } }, new Uint8Array())))).toThrow(/missing from the checkpoint/);
  });

  it('exports and imports from the command line', async () => {
    const model = new TitansModel(modelConfig({ dim: 32, layers: 1, heads: 2, segment: 16, memory: { chunkSize: 8 } }), { seed: 4 });
    const trd = path.join(dir, 'm.trd');
    fs.writeFileSync(trd, encodeCheckpoint(modelToCheckpoint(model, new ByteTokenizer().spec)));
    model.dispose();
    const st = path.join(dir, 'm.safetensors');
    const back = path.join(dir, 'back.trd');
    expect((await cli('model', 'export', trd, st)).code).toBe(0);
    const imported = await cli('model', 'import', st, back);
    expect(imported.code, imported.err).toBe(0);
    expect(imported.out).toMatch(/a Titans MAC model, [\d,]+ parameters/);
    const a = decodeCheckpoint(fs.readFileSync(trd));
    const b = decodeCheckpoint(fs.readFileSync(back));
    expect(b.tensors.map((t) => t.name)).toEqual(a.tensors.map((t) => t.name));
    for (const t of a.tensors) expect(Array.from(b.tensors.find((x) => x.name === t.name)!.data)).toEqual(Array.from(t.data));
    fs.writeFileSync(path.join(dir, 'junk.safetensors'), 'not at all');
    const junk = await cli('model', 'import', path.join(dir, 'junk.safetensors'), back);
    expect(junk.code).toBe(1);
    expect(junk.err).toMatch(/import: not a usable safetensors file/);
  });
});
