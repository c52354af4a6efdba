// The surprise views' data through the API, on a document read by two real (tiny) models: the
// per-token trace equals the stored one, the series downsamples without losing the peaks, zooms,
// and compares models; the recall probe reads a cue under no memory and under the book's.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../core/api/client.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { decodeTracePiece, RANK_EXACT_BELOW } from '../../../core/reading/trace.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let dataDir: string;
let modelA: string;
let modelB: string;
let core: Core;
let api: ApiClient;
let id: number;
const text = makeBook({ chapters: 3, paragraphsPerChapter: 12, seed: 31, title: 'Inspect' });

const open = (modelFile: string) => {
  core = createCore({ dataDir, transport: 'in-process', reading: { modelFile, backend: 'wasm', stepTokens: 64, checkpointTokens: 1024 } });
  api = createInProcessClient(core.server);
};
const readAll = async () => {
  await api.call('reading.start', { id });
  await core.reading.whenIdle();
};

beforeAll(async () => {
  dir = tempDir('titans-inspect-');
  dataDir = path.join(dir, 'data');
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  modelA = await writeTinyReaderModel(path.join(dir, 'a'), 3);
  modelB = await writeTinyReaderModel(path.join(dir, 'b'), 4);
  open(modelA);
  id = (await api.call('library.importPath', { path: writeFile(dir, 'inspect.txt', text) })).document.id;
  await readAll();
}, 120_000);
afterAll(async () => {
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('inspecting a read document', () => {
  it('gives the stored per-token trace for a range of text, with alternatives and the memory per layer', async () => {
    const t = await api.call('doc.trace', { id, start: 100, end: 1100 });
    expect(t.layers).toEqual([0, 1]);
    expect(t.tokens.length).toBe(1000); // ASCII: one token per character
    expect(t.tokens[0]!.start).toBe(100);
    expect(t.tokens.at(-1)!.start).toBe(1099);
    const pieces = (core.db.prepare(`SELECT data FROM surprise_traces WHERE doc_id = ? ORDER BY piece`).all(id) as Array<{ data: Buffer }>).map((r) => decodeTracePiece(r.data));
    const stored = (i: number) => {
      const p = pieces.find((x) => i >= x.startToken && i < x.startToken + x.offsets.length)!;
      return { surprisal: p.surprisal[i - p.startToken]!, grad: p.layers[1]!.grad[i - p.startToken]!, rank: p.rank[i - p.startToken]! };
    };
    for (const tok of [t.tokens[0]!, t.tokens[500]!, t.tokens[999]!]) {
      const s = stored(tok.index);
      expect(tok.surprisal).toBeCloseTo(s.surprisal, 5);
      expect(tok.rank).toBe(s.rank);
      expect(tok.memory[1]!.grad).toBeCloseTo(s.grad, 5);
      expect(tok.top).toHaveLength(tok.topKept ? 3 : 0);
      expect(tok.rankApprox).toBe(s.rank >= RANK_EXACT_BELOW);
      expect(tok.memory[0]!.alpha).toBeGreaterThan(0);
      expect(tok.memory[0]!.alpha).toBeLessThan(1);
    }
    // the alternatives of the most surprising tokens (about a tenth), in order of probability; the others say they were not kept
    const withAlternatives = t.tokens.filter((x) => x.topKept);
    expect(withAlternatives.length).toBeGreaterThan(50);
    expect(withAlternatives.length).toBeLessThan(250);
    for (const tok of withAlternatives) {
      expect(tok.top).toHaveLength(3);
      expect(tok.top[0]!.p!).toBeGreaterThanOrEqual(tok.top[1]!.p!);
    }
    await expect(api.call('doc.trace', { id, start: 0, end: 100_000 })).rejects.toThrow(/at most 40000 characters/);
    // the overlay's columns carry the same numbers, compactly
    const o = await api.call('doc.overlay', { id, start: 100, end: 1100 });
    expect(o.layers).toEqual(t.layers);
    expect(o.starts).toEqual(t.tokens.map((x) => x.start));
    expect(o.surprisal).toEqual(t.tokens.map((x) => x.surprisal));
    expect(o.grad[1]).toEqual(t.tokens.map((x) => x.memory[1]!.grad));
  });

  it('downsamples the whole book into points that keep the peaks, and zooms into a range', async () => {
    const all = await api.call('doc.series', { id, points: 5000 });
    const few = await api.call('doc.series', { id, points: 12 });
    expect(few.points.length).toBeLessThanOrEqual(12);
    expect(few.layers).toEqual([0, 1]);
    expect(few.points[0]!.start).toBe(0);
    expect(few.points.at(-1)!.end).toBe(text.length);
    const peak = (ps: typeof all.points, k: 'lmMax' | 'memMax') => Math.max(...ps.map((p) => p[k] ?? -Infinity));
    expect(peak(few.points, 'lmMax')).toBeCloseTo(peak(all.points, 'lmMax'), 6);
    expect(peak(few.points, 'memMax')).toBeCloseTo(peak(all.points, 'memMax'), 6);
    for (let i = 1; i < few.points.length; i++) expect(few.points[i]!.start).toBeGreaterThanOrEqual(few.points[i - 1]!.end - 64);
    const zoom = await api.call('doc.series', { id, start: 2000, end: 4000, points: 100 });
    expect(zoom.points.length).toBeGreaterThan(10);
    for (const p of zoom.points) {
      expect(p.end).toBeGreaterThan(2000);
      expect(p.start).toBeLessThan(4000);
    }
  });

  it('recalls: the cue under no memory and under the book, with what the model writes next', async () => {
    const cue = text.slice(500, 540);
    const r = await api.call('memory.recall', { cue, next: 8 });
    expect(r.cueTokens).toBe(40);
    expect(r.rows.map((x) => x.docId)).toEqual([null, id]);
    for (const row of r.rows) {
      expect(row.memLoss).toHaveLength(2);
      expect(row.memLoss.every((v) => v !== null && Number.isFinite(v))).toBe(true);
      expect(row.lmLoss).not.toBeNull();
      expect(new TextEncoder().encode(row.next).length).toBeGreaterThan(0);
    }
    // the book's memory is not the fresh one: the same cue scores differently under it
    expect(r.rows[1]!.memLoss[0]).not.toBeCloseTo(r.rows[0]!.memLoss[0]!, 6);
  });

  it('compares the same passage under two models', async () => {
    const a = await api.call('doc.trace', { id, start: 0, end: 500 });
    await core.close();
    open(modelB);
    await readAll();
    const readings = await api.call('reading.list', { id });
    expect(readings.map((r) => r.modelId).sort()).toEqual([a.modelId, readings.find((r) => r.modelId !== a.modelId)!.modelId].sort());
    const b = await api.call('doc.trace', { id, start: 0, end: 500 });
    expect(b.modelId).not.toBe(a.modelId); // the latest reading by default
    const again = await api.call('doc.trace', { id, start: 0, end: 500, modelId: a.modelId });
    expect(again.tokens.map((t) => t.surprisal)).toEqual(a.tokens.map((t) => t.surprisal));
    expect(b.tokens.map((t) => t.surprisal)).not.toEqual(a.tokens.map((t) => t.surprisal));
  });
});
