// TITANS_BACKEND=webgpu through the app: the reading queue's model worker (a worker thread) starts
// tfjs-backend-webgpu on Dawn (SwiftShader here and in CI, see test/integration/models/webgpu.test.ts)
// and reads a short text into memory; its per-token surprise (stored as float16) and the memory
// state (float32) equal a reading by the cpu backend of the same model. Then the same worker
// recalls a cue under that memory (memory.recall: losses and a greedy continuation), and the
// fine-tune worker scores a passage (models.compare), as on cpu. Fails, not skips, without
// SwiftShader's Vulkan driver.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../core/api/client.js';
import type { RecallResult, TokenTrace } from '../../../core/api/contract.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { DATABASE_FILE } from '../../../core/paths.js';
import { decodeCheckpoint } from '../../../models/checkpoint/format.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { tempDir, writeFile } from '../../fixtures/texts.js';

// where Debian's chromium puts it (TITANS_SWIFTSHADER_ICD: elsewhere)
const SWIFTSHADER_ICD = process.env.TITANS_SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
const TEXT = 'The lighthouse keeper counted the gulls at dawn. Each morning the sea was grey and the gulls were loud; each evening he wrote the number down.\n';

let dir: string;
let modelFile: string;
const cores: Core[] = [];

beforeAll(async () => {
  if (!process.env.VK_ICD_FILENAMES) {
    if (!fs.existsSync(SWIFTSHADER_ICD)) throw new Error(`reading on webgpu needs SwiftShader's Vulkan driver: ${SWIFTSHADER_ICD} is missing (apt-get install chromium ships it)`);
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // the worker thread inherits the environment
  }
  dir = tempDir('titans-webgpu-reading-');
  modelFile = await writeTinyReaderModel(dir);
});
afterAll(async () => {
  for (const c of cores) await c.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Run {
  trace: TokenTrace;
  state: ReturnType<typeof decodeCheckpoint>;
  backendColumn: string;
  workerBackend: string;
  seconds: number;
  recall: RecallResult;
  compare: { meanSurprisal: number; surprisal: number[] };
}

async function readWith(backend: string): Promise<Run> {
  const dataDir = path.join(dir, backend);
  const core = createCore({ dataDir, transport: 'in-process', reading: { modelFile, backend, stepTokens: 64, checkpointTokens: 64 } });
  cores.push(core);
  const api: ApiClient = createInProcessClient(core.server);
  const id = (await api.call('library.importPath', { path: writeFile(dir, `${backend}.txt`, TEXT) })).document.id;
  const t0 = performance.now();
  await api.call('reading.start', { id });
  const end = Date.now() + 120_000;
  for (;;) {
    const [r] = await api.call('reading.list', { id });
    if (r?.status === 'done') break;
    if (r?.status === 'failed') throw new Error(`reading on ${backend} failed: ${r.error?.message}`);
    if (Date.now() > end) throw new Error(`reading on ${backend} timed out`);
    await new Promise((res) => setTimeout(res, 50));
  }
  const seconds = (performance.now() - t0) / 1000;
  const trace = await api.call('doc.trace', { id, start: 0, end: TEXT.length });
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  const row = db.prepare('SELECT backend, state FROM memory_states WHERE doc_id = ?').get(id) as { backend: string; state: Buffer };
  db.close();
  const { backend: workerBackend, model } = await core.reading.model();
  const recall = await api.call('memory.recall', { cue: 'the gulls were', next: 4 });
  const [compared] = (await api.call('models.compare', { ids: [model.id], text: 'Each evening he wrote the number down.' })).rows;
  return { trace, state: decodeCheckpoint(new Uint8Array(row.state)), backendColumn: row.backend, workerBackend, seconds, recall, compare: compared! };
}

describe('reading into memory on webgpu', () => {
  it('the model worker reads on webgpu (SwiftShader) with the surprise and the memory of cpu', async () => {
    const cpu = await readWith('cpu');
    const gpu = await readWith('webgpu');
    expect(cpu.backendColumn).toBe('cpu');
    expect(gpu.backendColumn).toMatch(/^webgpu \(.+\)$/);
    expect(gpu.workerBackend).toBe(gpu.backendColumn);
    if (process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD) expect(gpu.backendColumn).toMatch(/swiftshader/i);

    const a = gpu.trace.tokens;
    const b = cpu.trace.tokens;
    expect(a.length).toBe(b.length);
    expect(a.length).toBeGreaterThan(100);
    // traces are stored as float16: equal within two float16 steps (2^-10 relative) plus 1e-6
    let traceWorst = 0; // in float16 steps (2^-11 relative)
    const near = (x: number | null, y: number | null, what: string) => {
      if (x === null || y === null) return expect(x, what).toBe(y);
      if (x !== y) traceWorst = Math.max(traceWorst, Math.abs(x - y) / (2 ** -11 * Math.max(Math.abs(x), Math.abs(y))));
      expect(Math.abs(x - y), `${what}: webgpu ${x}, cpu ${y}`).toBeLessThanOrEqual(2 ** -10 * Math.max(Math.abs(x), Math.abs(y)) + 1e-6);
    };
    let signals = 0;
    for (let i = 0; i < a.length; i++) {
      near(a[i]!.surprisal, b[i]!.surprisal, `surprisal of token ${i}`);
      a[i]!.memory.forEach((m, l) => {
        const c = b[i]!.memory[l]!;
        for (const k of ['grad', 'loss', 'theta', 'eta', 'alpha', 'momentum'] as const) {
          near(m[k], c[k], `memory layer ${l} ${k} at token ${i}`);
          if (m[k] !== null) signals++;
        }
      });
    }
    expect(signals).toBeGreaterThan(a.length); // the memory's numbers were compared, not only nulls
    // the memory state read to the end (float32): the fast weights within 5e-5 of their scale
    // (webgpu.test.ts: the state after several updates differs by ~1e-5)
    expect(gpu.state.tensors.map((t) => t.name)).toEqual(cpu.state.tensors.map((t) => t.name));
    let stateWorst = 0;
    gpu.state.tensors.forEach((t, i) => {
      const u = cpu.state.tensors[i]!;
      let maxAbs = 0;
      let scale = 0;
      for (let j = 0; j < t.data.length; j++) {
        maxAbs = Math.max(maxAbs, Math.abs(t.data[j]! - u.data[j]!));
        scale = Math.max(scale, Math.abs(u.data[j]!));
      }
      expect(maxAbs, `state tensor ${t.name}`).toBeLessThanOrEqual(5e-5 * scale + 1e-7);
      if (scale > 0) stateWorst = Math.max(stateWorst, maxAbs / scale);
    });
    // recall under no memory and under the book's, by the reading worker: losses within 1e-4
    // relative (float32), the same greedy continuation
    expect(gpu.recall.rows.length).toBe(2);
    gpu.recall.rows.forEach((r, i) => {
      const c = cpu.recall.rows[i]!;
      expect(r.next).toBe(c.next);
      for (const [x, y] of [[r.lmLoss, c.lmLoss], ...r.memLoss.map((m, l) => [m, c.memLoss[l]!] as const)] as const) {
        expect(x).not.toBeNull();
        expect(Math.abs(x! - y!)).toBeLessThanOrEqual(1e-4 * Math.abs(y!) + 1e-7);
      }
    });
    // the fine-tune worker's scoring (models.compare) on webgpu: per token within 1e-4 relative
    expect(gpu.compare.surprisal.length).toBe(cpu.compare.surprisal.length);
    gpu.compare.surprisal.forEach((x, i) => expect(Math.abs(x - cpu.compare.surprisal[i]!)).toBeLessThanOrEqual(1e-4 * Math.abs(cpu.compare.surprisal[i]!) + 1e-6));
    console.log(
      `read ${a.length} tokens: cpu ${cpu.seconds.toFixed(1)} s, ${gpu.backendColumn} ${gpu.seconds.toFixed(1)} s; ` +
        `trace differs by at most ${traceWorst.toFixed(2)} float16 steps, the state by ${stateWorst.toExponential(2)} of its scale`,
    );
  }, 180_000);
});
