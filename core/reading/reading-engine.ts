// Which engine reads documents into memory (issue 17): onnxruntime's reading step where it applies
// (models/onnx/reading-step.ts: a CPU backend, a model of the shipped graph's shape), else
// TensorFlow.js alone. A GPU backend (webgpu, node-gpu) keeps reading on the GPU with tfjs.
import os from 'node:os';
import type { BackendInfo } from '../../models/backend.js';
import { shippedReadingGraph } from '../../models/default/default-model.js';
import type { TitansModel } from '../../models/model/model.js';
import { OnnxReadingStep } from '../../models/onnx/reading-step.js';

export type ReadEngine = 'onnx' | 'tfjs';

export interface ReadingEngine {
  onnx: OnnxReadingStep | null;
  /** shown beside the backend ("reading: onnxruntime, 2 threads"), or why tfjs reads alone */
  label: string;
}

export async function openReadingEngine(model: TitansModel, backend: Pick<BackendInfo, 'name'>, want: ReadEngine | undefined): Promise<ReadingEngine> {
  if (want === 'tfjs') return { onnx: null, label: 'reading: tfjs (as asked)' };
  if (backend.name === 'webgpu' || backend.name === 'node-gpu') return { onnx: null, label: `reading: tfjs on ${backend.name}` };
  const sidecar = shippedReadingGraph();
  if (!sidecar) return { onnx: null, label: 'reading: tfjs (no reading graph installed)' };
  const threads = Math.min(4, os.availableParallelism());
  try {
    const r = await OnnxReadingStep.open(model, sidecar, { threads });
    if (r.step) return { onnx: r.step, label: `reading: onnxruntime, ${threads} thread${threads > 1 ? 's' : ''}` };
    return { onnx: null, label: `reading: tfjs (${r.reason})` };
  } catch (e) {
    return { onnx: null, label: `reading: tfjs (onnxruntime failed: ${(e as Error).message})` };
  }
}

/** TITANS_READ_ENGINE's value: 'onnx', 'tfjs' or unset; anything else is refused, not ignored */
export function parseReadEngine(v: string | undefined): ReadEngine | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'onnx' || v === 'tfjs') return v;
  throw new Error(`TITANS_READ_ENGINE must be onnx or tfjs, not "${v}"`);
}
