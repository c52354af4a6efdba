// Fine-tuning through the core's API with the real fine-tune worker, a real SQLite file and a tiny
// real model: held-out loss falls; pausing and resuming, or a closed app started again, gives the
// same loss curve as an uninterrupted run; the new version is selectable, comparable, exportable
// and deletable, and what another version read is marked.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../core/api/client.js';
import type { FineTunePoint } from '../../../core/api/contract.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { modelCheckpointFromSafetensors } from '../../../models/model/io.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let modelFile: string;
let corpus: string;
const open = (data: string, autoRead = false) => {
  const core = createCore({ dataDir: path.join(dir, data), transport: 'in-process', reading: { defaultModelFile: modelFile, backend: 'wasm', stepTokens: 64, checkpointTokens: 512, autoRead, finetuneCheckpointSeconds: 0.001 } });
  return { core, api: createInProcessClient(core.server) };
};
const until = async (what: () => boolean | Promise<boolean>, ms = 120_000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};
const options = { steps: 16, learningRate: 1e-2, batchSize: 2, seqLen: 32, evalEvery: 4, seed: 5 };

beforeAll(async () => {
  dir = tempDir('titans-finetune-');
  modelFile = await writeTinyReaderModel(dir);
  corpus = path.join(dir, 'my-notes');
  fs.mkdirSync(path.join(corpus, 'sub'), { recursive: true });
  writeFile(corpus, 'one.txt', makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 11 }));
  writeFile(path.join(corpus, 'sub'), 'two.md', makeBook({ chapters: 2, paragraphsPerChapter: 6, seed: 12 }));
  fs.writeFileSync(path.join(corpus, 'picture.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const curve = (points: FineTunePoint[]) => points.map((p) => [p.step, p.loss]);

describe('fine-tuning', () => {
  let reference: FineTunePoint[];
  let c: ReturnType<typeof open>;
  beforeAll(() => {
    c = open('a');
  });
  afterAll(async () => c.core.close());

  it('trains on a folder, lowers held-out loss, and makes a version whose parent is the base', async () => {
    const { api } = c;
    const changes: string[] = [];
    api.on('finetune.changed', (e) => changes.push(e.status));
    const started = await api.call('finetune.start', { name: 'My notes', paths: [corpus], options });
    expect(started.dataset.texts).toBe(2);
    expect(started.dataset.skipped.map((s) => s.source)).toEqual(['picture.png']);
    await c.core.finetunes.whenIdle();
    const done = await api.call('finetune.get', { id: started.id });
    expect(done.status).toBe('done');
    expect(done.points.map((p) => p.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(done.heldOutAfter!).toBeLessThan(done.heldOutBefore! - 0.3);
    expect(done.points.filter((p) => p.evalLoss !== null).length).toBe(4);
    expect(changes).toContain('done');
    reference = done.points;

    const { models } = await api.call('models.list', {});
    const made = models.find((m) => m.id === done.resultModelId)!;
    expect(made.name).toBe('My notes');
    expect(made.parentId).toBe(done.baseModelId);
    expect(made.steps).toBe(16);
    expect(made.perplexityAfter!).toBeCloseTo(Math.exp(done.heldOutAfter!), 6);
    expect(made.data).toEqual(['one.txt', 'two.md']);
    expect(models.find((m) => m.id === done.baseModelId)!.selected).toBe(true);
  });

  it('compares the version with its parent on a passage of its data', async () => {
    const { api } = c;
    const { models } = await api.call('models.list', {});
    const child = models.find((m) => m.parentId)!;
    const text = makeBook({ chapters: 1, paragraphsPerChapter: 2, seed: 11 }).slice(0, 600);
    const r = await api.call('models.compare', { ids: [child.parentId!, child.id], text });
    expect(r.rows).toHaveLength(2);
    expect(r.rows[1]!.surprisal).toHaveLength(r.tokens - 1);
    expect(r.rows[1]!.meanSurprisal).toBeLessThan(r.rows[0]!.meanSurprisal);
  });

  it('selects a version; what the other read is marked; exports and deletes', async () => {
    const { api, core } = c;
    const doc = (await api.call('library.importPath', { path: writeFile(dir, 'read.txt', makeBook({ chapters: 1, paragraphsPerChapter: 3, seed: 3 })) })).document.id;
    await api.call('reading.start', { id: doc });
    await core.reading.whenIdle();
    const { models } = await api.call('models.list', {});
    const base = models.find((m) => !m.parentId)!;
    const child = models.find((m) => m.parentId)!;
    expect(base.documents).toBe(1);
    await expect(api.call('models.delete', { id: base.id })).rejects.toMatchObject({ code: 'conflict' });

    await api.call('models.select', { id: child.id });
    const after = await api.call('models.list', {});
    expect(after.models.find((m) => m.id === child.id)!.selected).toBe(true);
    const listed = (await api.call('library.list', {})).find((d) => d.id === doc)!;
    expect(listed.reading!.modelId).toBe(base.id); // read by another version: the UI offers to re-read
    const re = await api.call('reading.start', { id: doc });
    expect(re.modelId).toBe(child.id);
    await core.reading.whenIdle();

    const st = await api.call('models.export', { id: child.id, format: 'safetensors' });
    const bytes = Buffer.from(st.base64, 'base64');
    expect(bytes.length).toBe(st.total);
    expect(modelCheckpointFromSafetensors(bytes).meta).toMatchObject({ name: 'My notes', parent: base.id });

    const del = await api.call('models.delete', { id: base.id });
    expect(del).toEqual({ deleted: true, documents: 1 });
    const left = await api.call('models.list', {});
    expect(left.models.map((m) => m.id)).toEqual([child.id]);
    expect(left.models[0]!.parentId).toBeNull();
    expect(fs.existsSync(modelFile)).toBe(true); // not the library's file: kept
  });

  it('a version round-trips through safetensors export and import, reading the same', async () => {
    const { api } = c;
    const [child] = (await api.call('models.list', {})).models;
    const st = await api.call('models.export', { id: child!.id, format: 'safetensors' });
    const file = path.join(dir, st.fileName);
    fs.writeFileSync(file, Buffer.from(st.base64, 'base64'));
    const imported = await api.call('models.import', { path: file });
    expect(imported).toMatchObject({ name: 'My notes', steps: 16, parameters: child!.parameters, owned: true });
    expect(imported.perplexityAfter).toBeCloseTo(child!.perplexityAfter!, 6);
    const text = makeBook({ chapters: 1, paragraphsPerChapter: 1, seed: 12 }).slice(0, 300);
    const r = await api.call('models.compare', { ids: [child!.id, imported.id], text });
    expect(r.rows[1]!.surprisal).toEqual(r.rows[0]!.surprisal);

    fs.writeFileSync(path.join(dir, 'not-a-model.safetensors'), 'nonsense');
    await expect(api.call('models.import', { path: path.join(dir, 'not-a-model.safetensors') })).rejects.toMatchObject({ code: 'unreadable' });
    expect((await api.call('models.list', {})).models).toHaveLength(2);
  });

  it('pause and resume give the same loss curve as an uninterrupted run', async () => {
    const p = open('b');
    try {
      const f = await p.api.call('finetune.start', { name: 'Paused', paths: [corpus], options });
      await until(async () => (await p.api.call('finetune.get', { id: f.id })).points.length >= 5);
      await p.api.call('finetune.pause', { id: f.id });
      await p.core.finetunes.whenIdle();
      const paused = await p.api.call('finetune.get', { id: f.id });
      expect(paused.status).toBe('paused');
      expect(paused.step).toBeGreaterThanOrEqual(5);
      expect(paused.step).toBeLessThan(16);
      await p.api.call('finetune.resume', { id: f.id });
      await p.core.finetunes.whenIdle();
      const done = await p.api.call('finetune.get', { id: f.id });
      expect(done.status).toBe('done');
      expect(curve(done.points).map(([s]) => s)).toEqual(curve(reference).map(([s]) => s));
      for (const [i, pt] of done.points.entries()) expect(pt.loss).toBeCloseTo(reference[i]!.loss, 4);
    } finally {
      await p.core.close();
    }
  });

  it('a closed app continues the fine-tune from its checkpoint on the next start', async () => {
    let p = open('c', true);
    const f = await p.api.call('finetune.start', { name: 'Interrupted', paths: [corpus], options });
    await until(async () => (await p.api.call('finetune.get', { id: f.id })).points.length >= 4);
    await p.core.close();
    const db = new Database(path.join(dir, 'c', 'library.sqlite'), { readonly: true });
    const row = db.prepare(`SELECT status, step FROM finetunes WHERE id = ?`).get(f.id) as { status: string; step: number };
    db.close();
    expect(row.status).toBe('running'); // interrupted, not paused by the user
    expect(row.step).toBeGreaterThanOrEqual(4);
    expect(fs.existsSync(path.join(dir, 'c', 'finetunes', String(f.id), 'checkpoint.training'))).toBe(true);
    p = open('c', true); // resumes what was running
    try {
      await until(async () => (await p.api.call('finetune.get', { id: f.id })).status === 'done');
      const done = await p.api.call('finetune.get', { id: f.id });
      for (const [i, pt] of done.points.entries()) expect(pt.loss).toBeCloseTo(reference[i]!.loss, 4);
    } finally {
      await p.core.close();
    }
  });

  it('refuses an empty selection, a second job, and says which files it skipped', async () => {
    const p = open('d');
    try {
      const empty = path.join(dir, 'empty-folder');
      fs.mkdirSync(empty, { recursive: true });
      await expect(p.api.call('finetune.start', { name: 'Nothing', paths: [empty] })).rejects.toMatchObject({ code: 'bad_request' });
      await expect(p.api.call('finetune.start', { name: 'Missing', paths: [path.join(dir, 'nope')] })).rejects.toMatchObject({ code: 'not_found' });
      expect(await p.api.call('finetune.list', {})).toEqual([]);
      const left = path.join(dir, 'd', 'finetunes');
      expect(fs.existsSync(left) ? fs.readdirSync(left) : []).toEqual([]); // nothing left behind
      // short notes are packed together so a held-out part exists; a single tiny note cannot be evaluated
      const notes = path.join(dir, 'short-notes');
      fs.mkdirSync(notes, { recursive: true });
      for (let i = 0; i < 5; i++) writeFile(notes, `n${i}.txt`, makeBook({ chapters: 1, paragraphsPerChapter: 1, seed: 70 + i }).slice(0, 220));
      const packed = await p.api.call('finetune.start', { name: 'Notes', paths: [notes], options: { ...options, steps: 3 } });
      await p.core.finetunes.whenIdle();
      expect((await p.api.call('finetune.get', { id: packed.id })).status).toBe('done');
      const tiny = path.join(dir, 'tiny-note');
      fs.mkdirSync(tiny, { recursive: true });
      writeFile(tiny, 'only.txt', 'A single short line of text.');
      const short = await p.api.call('finetune.start', { name: 'Tiny', paths: [tiny], options: { ...options, steps: 3 } });
      await p.core.finetunes.whenIdle();
      const failed = await p.api.call('finetune.get', { id: short.id });
      expect(failed.status).toBe('failed');
      expect(failed.error!.message).toMatch(/too short to hold out a part for evaluation/);

      const f = await p.api.call('finetune.start', { name: 'First', paths: [corpus], options: { ...options, steps: 400 } });
      await expect(p.api.call('finetune.start', { name: 'Second', paths: [corpus] })).rejects.toMatchObject({ code: 'conflict' });
      const cancelled = await p.api.call('finetune.cancel', { id: f.id });
      expect(cancelled.status).toBe('cancelled');
      expect(fs.existsSync(path.join(dir, 'd', 'finetunes', String(f.id)))).toBe(false);
      expect(fs.existsSync(path.join(dir, 'd', 'finetunes', String(packed.id)))).toBe(false); // done: its dataset and checkpoint are gone
    } finally {
      await p.core.close();
    }
  });
});
