// Binding weights into the weightless reading graph (models/onnx/bind-weights.ts), on the committed
// graph: the inputs are read by name, bound inputs leave the input list, an unknown name is refused,
// and a truncated file is an error, not a silent partial graph. (onnxruntime running the bound graph
// against tfjs: test/integration/models/onnx-reading.test.ts.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bindWeights, graphInputNames } from '../../../models/onnx/bind-weights.js';

const root = path.resolve(import.meta.dirname, '../../..');
const graph = new Uint8Array(fs.readFileSync(path.join(root, 'models/default/reading-step.onnx')));

describe('bindWeights', () => {
  it('turns the named inputs into initializers and keeps the rest', () => {
    const inputs = graphInputNames(graph);
    expect(inputs[0]).toBe('ids');
    expect(inputs).toContain('p:embed');
    expect(inputs).toContain('s:l0.mem.w0');
    const data = Float32Array.from({ length: 6 }, (_, i) => i + 0.5);
    const bound = bindWeights(graph, [{ name: 'p:l0.mixNorm', dims: [2, 3], data }]);
    const after = graphInputNames(bound);
    expect(after).toEqual(inputs.filter((n) => n !== 'p:l0.mixNorm'));
    // the raw float32 data is in the file as written
    const raw = new Uint8Array(data.buffer);
    const at = Buffer.from(bound).indexOf(Buffer.from(raw));
    expect(at).toBeGreaterThan(graph.length - 100);
  });

  it('refuses a name the graph has no input for, and a truncated file', () => {
    expect(() => bindWeights(graph, [{ name: 'p:nope', dims: [1], data: new Float32Array(1) }])).toThrow(/no input named p:nope/);
    expect(() => graphInputNames(graph.subarray(0, graph.length - 7))).toThrow(/ONNX graph/);
  });
});
