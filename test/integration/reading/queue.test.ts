// The reading queue through the core's API, with the real model worker (a worker thread that owns
// TensorFlow.js), a real SQLite file and a tiny real model: queue, progress, pause and resume,
// delete while reading, and the most surprising passages afterwards.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../../core/api/client.js';
import type { JobProgress } from '../../../core/api/contract.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

let dir: string;
let core: Core;
let api: ApiClient;
let modelFile: string;
const events: JobProgress[] = [];
const settings = () => ({ modelFile, backend: 'wasm', stepTokens: 64, checkpointTokens: 512 });

beforeAll(async () => {
  dir = tempDir('titans-queue-');
  modelFile = await writeTinyReaderModel(dir);
  core = createCore({ dataDir: path.join(dir, 'data'), transport: 'in-process', reading: settings() });
  api = createInProcessClient(core.server);
  api.on('job.progress', (p) => events.push(p));
});
afterAll(async () => {
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const importText = async (name: string, text: string) => (await api.call('library.importPath', { path: writeFile(dir, name, text) })).document.id;
const until = async (what: () => boolean | Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};
const lastEvent = (docId: number) => events.filter((e) => e.docId === docId).at(-1);

describe('the reading queue', () => {
  it('reads queued documents one at a time, with progress, rate and ETA, and records the model', async () => {
    const a = await importText('a.txt', makeBook({ chapters: 2, paragraphsPerChapter: 8, seed: 1, title: 'Alpha' }));
    const b = await importText('b.txt', makeBook({ chapters: 2, paragraphsPerChapter: 8, seed: 2, title: 'Beta' }));
    const sa = await api.call('reading.start', { id: a });
    expect(['queued', 'reading']).toContain(sa.status);
    expect(sa.modelName).toBe('tiny test model (untrained)');
    const sb = await api.call('reading.start', { id: b });
    expect(sb.status).toBe('queued');
    await until(() => lastEvent(b)?.state === 'done');
    // one at a time: a finished before b began
    const aDone = events.findIndex((e) => e.docId === a && e.state === 'done');
    const bFirst = events.findIndex((e) => e.docId === b);
    expect(aDone).toBeGreaterThanOrEqual(0);
    expect(bFirst).toBeGreaterThan(aDone);
    const running = events.filter((e) => e.docId === a && e.state === 'running' && e.done > 0);
    expect(running.length).toBeGreaterThan(0);
    expect(running.at(-1)).toMatchObject({ kind: 'read', unit: 'tokens' });
    expect(running.at(-1)!.ratePerSecond).toBeGreaterThan(0);
    const list = await api.call('reading.list', {});
    expect(list.filter((r) => r.docId === a || r.docId === b).map((r) => r.status)).toEqual(['done', 'done']);
    const doc = (await api.call('library.list', {})).find((d) => d.id === a)!;
    expect(doc.reading).toMatchObject({ status: 'done', modelName: 'tiny test model (untrained)' });
    expect(doc.reading!.tokensDone).toBe(doc.reading!.tokensTotal);
    // starting a finished document again changes nothing
    expect((await api.call('reading.start', { id: a })).status).toBe('done');
  });

  it('pauses on cancel with a checkpoint and resumes from it', async () => {
    const id = await importText('long.txt', makeBook({ chapters: 4, paragraphsPerChapter: 25, seed: 5, title: 'Long' }));
    await api.call('reading.start', { id });
    await until(() => (lastEvent(id)?.done ?? 0) > 1500);
    const job = lastEvent(id)!;
    expect((await api.call('jobs.cancel', { jobId: job.jobId })).cancelled).toBe(true);
    await until(() => lastEvent(id)?.state === 'cancelled');
    expect(lastEvent(id)!.error!.message).toMatch(/Reading paused at \d+%; the memory so far is kept/);
    const [paused] = await api.call('reading.list', { id });
    expect(paused!.status).toBe('paused');
    expect(paused!.tokensDone).toBeGreaterThan(1500);
    const kept = paused!.tokensDone;

    const before = events.length;
    await api.call('reading.start', { id });
    await until(() => lastEvent(id)?.state === 'done');
    const resumed = events.slice(before).filter((e) => e.docId === id && e.state === 'running' && e.total > 0);
    expect(resumed[0]!.done).toBeGreaterThanOrEqual(kept); // it did not start over
    const [done] = await api.call('reading.list', { id });
    expect(done!.status).toBe('done');
  });

  it('lists the most surprising passages with their positions', async () => {
    const id = (await api.call('library.list', {})).find((d) => d.title === 'Long')!.id;
    const r = await api.call('doc.surprising', { id, top: 3, signal: 'memory' });
    expect(r.passages).toHaveLength(3);
    expect(r.passages[0]!.score).toBeGreaterThanOrEqual(r.passages[1]!.score);
    const blocks = await api.call('doc.blocks', { id, from: 0, count: 64 });
    const text = blocks.map((b) => b.text).join('');
    const chapters = (await api.call('library.get', { id })).chapterList;
    for (const p of r.passages) {
      expect(text.slice(p.start, p.end)).toBe(p.text);
      expect(text.slice(0, p.start).split('\n').length).toBe(p.line);
      expect(p.chapter).toBe(chapters.filter((c) => c.start <= p.start).at(-1)?.title ?? null);
    }
    const model = await api.call('doc.surprising', { id, top: 2, signal: 'model' });
    expect(model.passages).toHaveLength(2);
  });

  it('stops reading a document that is deleted, and removes all it had', async () => {
    const id = await importText('doomed.txt', makeBook({ chapters: 3, paragraphsPerChapter: 25, seed: 9, title: 'Doomed' }));
    await api.call('reading.start', { id });
    await until(() => (lastEvent(id)?.done ?? 0) > 600);
    expect((await api.call('library.delete', { id })).deleted).toBe(true);
    for (const table of ['readings', 'surprise_traces', 'memory_states', 'passages']) {
      expect(core.db.prepare(`SELECT count(*) FROM ${table} WHERE doc_id = ?`).pluck().get(id)).toBe(0);
    }
    // the queue goes on with other work
    const next = await importText('after.txt', 'A short text read after the delete.\n'.repeat(20));
    await api.call('reading.start', { id: next });
    await until(() => lastEvent(next)?.state === 'done');
  });

  it('resumes when Resume is pressed while a pause is on its way', async () => {
    const id = await importText('twice.txt', makeBook({ chapters: 2, paragraphsPerChapter: 30, seed: 12, title: 'Twice' }));
    await api.call('reading.start', { id });
    await until(() => (lastEvent(id)?.done ?? 0) > 600);
    expect((await api.call('reading.pause', { id })).paused).toBe(true);
    await api.call('reading.start', { id }); // before the worker has stopped
    await until(async () => (await api.call('reading.list', { id }))[0]!.status === 'done');
  });

  it('a closed app queues the reading in progress again, and the next start resumes it from its checkpoint', async () => {
    const dataDir = path.join(dir, 'closing');
    const first = createCore({ dataDir, transport: 'in-process', reading: settings() });
    const a1 = createInProcessClient(first.server);
    let seen = 0;
    a1.on('job.progress', (p) => p.kind === 'read' && (seen = Math.max(seen, p.done)));
    const id = (await a1.call('library.importPath', { path: writeFile(dir, 'closing.txt', makeBook({ chapters: 3, paragraphsPerChapter: 25, seed: 13, title: 'Closing' })) })).document.id;
    await a1.call('reading.start', { id });
    await until(() => seen > 1500);
    await first.close();
    const db = new Database(path.join(dataDir, 'library.sqlite'), { readonly: true });
    const row = db.prepare(`SELECT status, tokens_done AS done, checkpoint IS NOT NULL AS kept FROM readings WHERE doc_id = ?`).get(id) as { status: string; done: number; kept: number };
    db.close();
    expect(row).toMatchObject({ status: 'queued', kept: 1 });
    expect(row.done).toBeGreaterThan(1500);

    const second = createCore({ dataDir, transport: 'in-process', reading: { ...settings(), autoRead: true } });
    const a2 = createInProcessClient(second.server);
    const progress: number[] = [];
    a2.on('job.progress', (p) => p.kind === 'read' && p.total > 0 && progress.push(p.done));
    try {
      await until(async () => (await a2.call('reading.list', { id }))[0]?.status === 'done');
      expect(progress[0]).toBeGreaterThanOrEqual(row.done);
    } finally {
      await second.close();
    }
  });

  it('says clearly when a document was never read', async () => {
    const id = await importText('unread.txt', 'Nothing read here.\n');
    await expect(api.call('doc.surprising', { id, top: 5 })).rejects.toThrow(/has not been read into memory yet/);
  });

  it('a malformed reply from the worker rejects the call it names, with a clear error, instead of leaving it waiting', async () => {
    await core.reading.model();
    // what a worker that answers wrongly would send: the real worker's own answer comes later and finds nothing waiting
    const worker = (core.reading as unknown as { worker: import('node:worker_threads').Worker }).worker;
    const sent: Array<{ rpc: string; id: number; method?: string }> = [];
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (m: never) => (sent.push(m), post(m));
    try {
      const asked = core.reading.recall('a question', undefined, 3);
      // microtasks only, so the worker cannot have answered yet: the call is registered and posted
      for (let i = 0; i < 20 && !sent.some((m) => m.method === 'recall'); i++) await Promise.resolve();
      const call = sent.find((m) => m.method === 'recall');
      expect(call).toBeDefined();
      worker.emit('message', { rpc: 'result', id: call!.id, result: 'not a recall result' });
      await expect(asked).rejects.toThrow(/The model worker sent a malformed reply to 'recall' \(/);
    } finally {
      worker.postMessage = post;
    }
    // the worker still answers what comes next
    await expect(core.reading.recall('another question', undefined, 3)).resolves.toBeDefined();
  });
});
