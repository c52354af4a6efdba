// Models in and out as safetensors (the format PyTorch and Hugging Face tools read and write), so a
// model can be trained at scale elsewhere and used here. The layout: an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, ...,
// "__metadata__": {string: string}}, then the tensor bytes (little-endian, row-major).
// Tensor names are this project's parameter names (README.md beside this file); the metadata holds
// the model's config and tokenizer as JSON strings, which is all that is needed to rebuild it.
import { CheckpointError, type Checkpoint, type CheckpointTensor, type JsonValue } from './format.js';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from './float16.js';

export const SAFETENSORS_FORMAT = 'titans-reader';
const MAX_HEADER = 100 * 1024 * 1024;
const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };

const bad = (message: string) => new CheckpointError('bad-header', `not a usable safetensors file: ${message}`);

/** A model checkpoint as safetensors (float16 tensors stay F16, float32 F32, int32 I32). */
export function checkpointToSafetensors(c: Checkpoint): Uint8Array {
  if (c.kind !== 'model') throw new CheckpointError('invalid-input', `only models are exported as safetensors, not "${c.kind}"`);
  const header: Record<string, unknown> = {
    __metadata__: {
      format: SAFETENSORS_FORMAT,
      config: JSON.stringify(c.config ?? null),
      tokenizer: JSON.stringify(c.tokenizer ?? null),
      meta: JSON.stringify(c.meta ?? {}),
    },
  };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const t of c.tensors) {
    const dtype = t.data instanceof Int32Array ? 'I32' : t.dtype === 'float16' ? 'F16' : 'F32';
    const data = dtype === 'F16' ? float32ArrayToFloat16(t.data as Float32Array) : t.data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  // pad the header with spaces to a multiple of 8 (what the reference writer does, for alignment)
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A model checkpoint from safetensors; BF16 and F16 become float32, I32 stays int32. */
export function safetensorsToCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.length < 8) throw new CheckpointError('truncated', 'not a usable safetensors file: it is shorter than its 8-byte header length');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > bytes.length) throw new CheckpointError('truncated', `not a usable safetensors file: its header claims ${n} bytes, the file has ${bytes.length - 8}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch {
    throw bad('its header is not JSON');
  }
  const meta = (header.__metadata__ ?? {}) as Record<string, string>;
  const parse = (key: string): JsonValue => {
    if (typeof meta[key] !== 'string') throw bad(`its metadata has no "${key}" (a JSON string); export with the documented metadata (models/checkpoint/README.md)`);
    try {
      return JSON.parse(meta[key]!) as JsonValue;
    } catch {
      throw bad(`its metadata "${key}" is not JSON`);
    }
  };
  const data = bytes.subarray(8 + n);
  const tensors: CheckpointTensor[] = [];
  const spans: Array<[number, number, string]> = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = value as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const size = BYTES[e.dtype ?? ''];
    if (!size) throw bad(`tensor "${name}" has dtype ${String(e.dtype)} (F32, F16, BF16 and I32 are read)`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor "${name}" has no valid shape`);
    const [begin, end] = e.data_offsets ?? [-1, -1];
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end > data.length || end - begin !== count * size) {
      throw new CheckpointError('out-of-bounds', `not a usable safetensors file: tensor "${name}" has offsets [${begin}, ${end}] for ${count} values of ${e.dtype} in ${data.length} bytes`);
    }
    spans.push([begin, end, name]);
    const raw = new Uint8Array(data.subarray(begin, end)); // a copy (Buffer.slice would share a pool): aligned, independent of the file
    let values: Float32Array | Int32Array;
    if (e.dtype === 'F32') values = new Float32Array(raw.buffer);
    else if (e.dtype === 'I32') values = new Int32Array(raw.buffer);
    else if (e.dtype === 'F16') values = float16ArrayToFloat32(new Uint16Array(raw.buffer));
    else {
      const b16 = new Uint16Array(raw.buffer); // bfloat16: the top half of a float32
      const u = new Uint32Array(b16.length);
      for (let i = 0; i < b16.length; i++) u[i] = b16[i]! << 16;
      values = new Float32Array(u.buffer);
    }
    tensors.push({ name, shape: e.shape, data: values, ...(e.dtype === 'F16' ? { dtype: 'float16' as const } : {}) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) throw new CheckpointError('out-of-bounds', `not a usable safetensors file: tensors "${spans[i - 1]![2]}" and "${spans[i]![2]}" overlap`);
  const metaJson = typeof meta.meta === 'string' ? (parse('meta') as Record<string, JsonValue>) : {};
  return { kind: 'model', config: parse('config'), tokenizer: parse('tokenizer'), meta: metaJson, tensors };
}
