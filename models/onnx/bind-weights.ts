// Binding a model's weights into a weightless ONNX graph (docs/onnx-reading.md): each graph input
// named in `weights` becomes an initializer, a constant of the graph, so onnxruntime can pre-pack
// the matrices once instead of taking them as inputs on every call (~12% of a call here).
//
// ONNX files are protobuf. Only the fields touched are decoded (onnx.proto3):
//   ModelProto  7: graph (GraphProto)
//   GraphProto  5: initializer (TensorProto, repeated)   11: input (ValueInfoProto, repeated)
//   ValueInfoProto  1: name
//   TensorProto  1: dims (int64, repeated)   2: data_type (1 = FLOAT)   8: name   9: raw_data
// Everything else is copied byte for byte.

export interface WeightTensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

interface Field {
  field: number;
  wire: number;
  /** the whole field: tag, (length) and value */
  start: number;
  end: number;
  /** a length-delimited field's payload */
  body?: [number, number];
}

function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= b.length) throw new Error('ONNX graph: truncated varint');
    const x = b[pos++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
  }
}

function fields(b: Uint8Array, from = 0, to = b.length): Field[] {
  const out: Field[] = [];
  let pos = from;
  while (pos < to) {
    const start = pos;
    const [tag, p] = readVarint(b, pos);
    pos = p;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    let body: [number, number] | undefined;
    if (wire === 0) pos = readVarint(b, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, q] = readVarint(b, pos);
      body = [q, q + len];
      pos = q + len;
    } else throw new Error(`ONNX graph: unsupported wire type ${wire}`);
    if (pos > to) throw new Error('ONNX graph: a field runs past its message');
    out.push({ field, wire, start, end: pos, ...(body ? { body } : {}) });
  }
  return out;
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

const utf8 = new TextEncoder();

/** a length-delimited field: tag, length, bytes */
function lengthDelimited(field: number, parts: Uint8Array[]): Uint8Array[] {
  const len = parts.reduce((n, p) => n + p.length, 0);
  return [Uint8Array.from([...varint(field * 8 + 2), ...varint(len)]), ...parts];
}

function tensorProto(t: WeightTensor): Uint8Array[] {
  const head: number[] = [];
  for (const d of t.dims) head.push(...varint(1 * 8 + 0), ...varint(d));
  head.push(...varint(2 * 8 + 0), 1); // FLOAT
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength); // little-endian on every platform we ship
  return [Uint8Array.from(head), ...lengthDelimited(8, [utf8.encode(t.name)]), ...lengthDelimited(9, [raw])];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** the names of the graph's inputs, in order */
export function graphInputNames(model: Uint8Array): string[] {
  const graph = fields(model).find((f) => f.field === 7 && f.wire === 2);
  if (!graph?.body) throw new Error('ONNX graph: no graph in the model');
  const decoder = new TextDecoder();
  return fields(model, graph.body[0], graph.body[1])
    .filter((f) => f.field === 11 && f.body)
    .map((f) => {
      const n = fields(model, f.body![0], f.body![1]).find((x) => x.field === 1 && x.body);
      return n ? decoder.decode(model.subarray(n.body![0], n.body![1])) : '';
    });
}

/** `model` with every input named in `weights` turned into an initializer holding its data */
export function bindWeights(model: Uint8Array, weights: WeightTensor[]): Uint8Array {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const top = fields(model);
  const graph = top.find((f) => f.field === 7 && f.wire === 2);
  if (!graph?.body) throw new Error('ONNX graph: no graph in the model');
  const decoder = new TextDecoder();
  const kept: Uint8Array[] = [];
  const bound = new Set<string>();
  for (const f of fields(model, graph.body[0], graph.body[1])) {
    if (f.field === 11 && f.body) {
      const nameField = fields(model, f.body[0], f.body[1]).find((x) => x.field === 1 && x.body);
      const name = nameField ? decoder.decode(model.subarray(nameField.body![0], nameField.body![1])) : '';
      if (byName.has(name)) {
        bound.add(name);
        continue; // no longer an input: an initializer below
      }
    }
    kept.push(model.subarray(f.start, f.end));
  }
  const missing = weights.filter((w) => !bound.has(w.name)).map((w) => w.name);
  if (missing.length) throw new Error(`ONNX graph: no input named ${missing.join(', ')}`);
  for (const w of weights) kept.push(...lengthDelimited(5, tensorProto(w)));
  const parts: Uint8Array[] = [];
  for (const f of top) {
    if (f === graph) parts.push(...lengthDelimited(7, kept));
    else parts.push(model.subarray(f.start, f.end));
  }
  return concat(parts);
}
