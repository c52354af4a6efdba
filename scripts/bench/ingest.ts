// `npm run bench:ingest`: import and read into memory a generated 1,000-page PDF and a generated
// 1 MB EPUB through the core (the real worker, model and SQLite file), and print a table:
// time until the document is readable, reading tokens/s, database size per million tokens, the
// surprise trace's bytes per token, the library's bytes per byte of text, and peak memory.
// Baselines measured in the same run: importing the same text as a plain .txt file (the parser's
// cost), and the model's bare forward pass on the same tokens, in this process, without surprise,
// trace or checkpoints (the reading pipeline's cost).
// Usage: npm run bench:ingest [-- --pages 1000 --epub-mb 1 --read-tokens 100000|all --model FILE --backend wasm]
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectBackend } from '../../models/backend.js';
import { createInProcessClient } from '../../core/api/in-process.js';
import type { JobProgress } from '../../core/api/contract.js';
import { createCore } from '../../core/app.js';
import { openDatabase } from '../../core/library/database.js';
import { readBlocks } from '../../core/library/queries.js';
import { loadReaderModel } from '../../core/reading/reader-model.js';
import { stepSize } from '../../core/reading/read-document.js';
import { disposeModelState, type ModelState } from '../../models/model/model.js';
import { makeLargeEpub, makeLargePdf } from '../../test/fixtures/documents/large.js';

const arg = (name: string, fallback: string) => process.argv.find((_, i) => process.argv[i - 1] === `--${name}`) ?? fallback;
const pages = Number(arg('pages', '1000'));
const epubMb = Number(arg('epub-mb', '1'));
const readLimit = arg('read-tokens', '100000');
const modelFile = process.argv.includes('--model') ? path.resolve(arg('model', '')) : undefined;
const backend = arg('backend', process.env.TITANS_BACKEND ?? '');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-bench-ingest-'));
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const mb = (b: number) => b / 1024 / 1024;

function dbBytes(dataDir: string, db: import('../../core/library/database.js').Db): number {
  db.pragma('wal_checkpoint(TRUNCATE)');
  return fs.statSync(path.join(dataDir, 'library.sqlite')).size;
}

interface Row {
  document: string;
  what: string;
  value: string;
  baseline: string;
  ratio: string;
}

async function main(): Promise<void> {
  console.log(`Generating a ${pages}-page PDF and a ${epubMb} MB EPUB in ${work} …`);
  const pdf = path.join(work, 'report.pdf');
  fs.writeFileSync(pdf, await makeLargePdf(pages));
  const epub = path.join(work, 'novel.epub');
  fs.writeFileSync(epub, await makeLargeEpub(epubMb * 1024 * 1024));

  const dataDir = path.join(work, 'data');
  const core = createCore({ dataDir, transport: 'in-process', reading: { ...(modelFile ? { modelFile } : {}), ...(backend ? { backend } : {}) } });
  const api = createInProcessClient(core.server);
  const rows: Row[] = [];
  const readingRate = new Map<number, { tokens: number; seconds: number; total: number }>();
  let started = new Map<number, { at: number; from: number }>();
  api.on('job.progress', (p: JobProgress) => {
    if (p.kind !== 'read' || p.docId === undefined) return;
    if (p.state === 'running' && p.total > 0) {
      const s = started.get(p.docId) ?? { at: performance.now(), from: p.done };
      started.set(p.docId, s);
      readingRate.set(p.docId, { tokens: p.done - s.from, seconds: (performance.now() - s.at) / 1000, total: p.total });
      if (readLimit !== 'all' && p.done >= Number(readLimit)) void api.call('reading.pause', { id: p.docId });
    }
  });

  const { model, backend: used } = await core.reading.model();
  console.log(`Model: ${model.name} (${(model.parameters / 1e6).toFixed(2)}M parameters), backend ${used}; reading ${readLimit === 'all' ? 'whole documents' : `the first ${Number(readLimit).toLocaleString('en')} tokens of each`}`);

  for (const [label, file] of [[`PDF, ${pages} pages`, pdf], [`EPUB, ${epubMb} MB`, epub]] as const) {
    const before = dbBytes(dataDir, core.db);
    peakRss = process.memoryUsage().rss;
    const t0 = performance.now();
    const { document: doc } = await api.call('library.importPath', { path: file });
    const readable = (performance.now() - t0) / 1000;
    const importPeak = peakRss;
    const afterImport = dbBytes(dataDir, core.db);

    // baseline: the same text as a plain .txt file through the streaming text importer
    const text = readBlocks(core.db, doc.id, 0, 1 << 20).map((b) => b.text).join('');
    const txt = path.join(work, `${path.basename(file)}.txt`);
    fs.writeFileSync(txt, text + '\n(baseline copy)\n');
    const t1 = performance.now();
    await api.call('library.importPath', { path: txt });
    const plain = (performance.now() - t1) / 1000;
    const afterBaseline = dbBytes(dataDir, core.db);

    peakRss = process.memoryUsage().rss;
    started = new Map();
    await api.call('reading.start', { id: doc.id });
    await core.reading.whenIdle();
    const [status] = await api.call('reading.list', { id: doc.id });
    const rate = readingRate.get(doc.id)!;
    const afterRead = dbBytes(dataDir, core.db);
    const tokensRead = status!.tokensDone;
    const trace = core.db.prepare(`SELECT sum(length(data)) AS pieces, sum(length(summary)) AS summaries, max(end_char) AS endChar FROM surprise_traces WHERE doc_id = ?`).get(doc.id) as { pieces: number; summaries: number; endChar: number };
    const traceBytes = trace.pieces + trace.summaries;
    // UTF-8 bytes of the whole text, and of the part read
    const textBytes = Buffer.byteLength(text);
    const readBytes = Buffer.byteLength(text.slice(0, trace.endChar));
    const importPerByte = (afterImport - before) / textBytes;
    const readPerByte = (afterRead - afterBaseline) / readBytes;
    const stateBytes = core.db
      .prepare(`SELECT coalesce((SELECT length(state) FROM memory_states WHERE doc_id = @id), (SELECT length(checkpoint) FROM readings WHERE doc_id = @id))`)
      .pluck()
      .get({ id: doc.id }) as number;
    rows.push(
      { document: label, what: 'time to readable (s)', value: readable.toFixed(2), baseline: `${plain.toFixed(2)} (same text as .txt)`, ratio: (readable / plain).toFixed(1) },
      { document: label, what: 'characters / pages', value: `${doc.chars.toLocaleString('en')} / ${doc.pages}`, baseline: '', ratio: '' },
      { document: label, what: 'import: database MB per million characters', value: ((mb(afterImport - before) * 1e6) / doc.chars).toFixed(1), baseline: `${((mb(afterBaseline - afterImport) * 1e6) / doc.chars).toFixed(1)} (as .txt)`, ratio: '' },
      { document: label, what: 'import: peak RSS (MB)', value: mb(importPeak).toFixed(0), baseline: '', ratio: '' },
      { document: label, what: 'tokens read (of total)', value: `${tokensRead.toLocaleString('en')} (of ${rate.total.toLocaleString('en')})`, baseline: '', ratio: '' },
      { document: label, what: 'reading tokens/s', value: (rate.tokens / rate.seconds).toFixed(0), baseline: 'see model row', ratio: '' },
      { document: label, what: 'reading: surprise trace MB per million tokens', value: ((mb(traceBytes) * 1e6) / tokensRead).toFixed(1), baseline: '', ratio: '' },
      { document: label, what: 'reading: surprise trace bytes per token', value: (traceBytes / tokensRead).toFixed(2), baseline: `${(trace.pieces / tokensRead).toFixed(2)} pieces + ${(trace.summaries / tokensRead).toFixed(2)} summaries`, ratio: '' },
      { document: label, what: 'reading: memory state MB (per document)', value: mb(stateBytes).toFixed(2), baseline: '', ratio: '' },
      { document: label, what: 'reading: database growth MB per million tokens', value: ((mb(afterRead - afterBaseline) * 1e6) / tokensRead).toFixed(1), baseline: '', ratio: '' },
      { document: label, what: 'reading: peak RSS (MB)', value: mb(peakRss).toFixed(0), baseline: '', ratio: '' },
      // the import over the whole text, the reading over the part read (a whole read book: their sum)
      // (the memory state is a fixed cost per document: large per byte of a short text)
      { document: label, what: 'library bytes per byte of text (UTF-8)', value: (importPerByte + readPerByte).toFixed(2), baseline: `${importPerByte.toFixed(2)} import + ${readPerByte.toFixed(2)} reading (trace ${(traceBytes / readBytes).toFixed(2)}, memory state ${(stateBytes / readBytes).toFixed(2)})`, ratio: '' },
    );
  }
  await core.close();

  // Baseline: the bare forward pass of the same model on the same backend, in this process.
  await selectBackend({ force: backend || used });
  const db = openDatabase(path.join(dataDir, 'library.sqlite'));
  const base = loadReaderModel(db, dataDir, modelFile);
  const step = stepSize(base.model);
  const ids = tf.tensor2d(Int32Array.from({ length: step }, (_, i) => 32 + ((i * 7) % 90)), [1, step], 'int32');
  let state: ModelState | null = null;
  const n = Math.max(8, Math.round(32768 / step));
  let t2 = performance.now();
  for (let k = -2; k < n; k++) {
    if (k === 0) t2 = performance.now(); // two warm-up steps first
    const r = base.model.forward(ids, state);
    r.logits.dataSync();
    r.logits.dispose();
    disposeModelState(state);
    state = r.state;
  }
  const bare = (n * step) / ((performance.now() - t2) / 1000);
  disposeModelState(state);
  base.model.dispose();
  db.close();
  for (const r of rows.filter((x) => x.what === 'reading tokens/s')) {
    r.baseline = `${bare.toFixed(0)} (bare forward, no surprise or storage)`;
    r.ratio = (Number(r.value) / bare).toFixed(2);
  }
  clearInterval(sampler);

  const widths = (['document', 'what', 'value', 'baseline', 'ratio'] as const).map((k) => Math.max(k.length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log('\n' + line(['document', 'measure', 'value', 'baseline (same run)', 'ratio']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line([r.document, r.what, r.value, r.baseline, r.ratio]));
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
