// `npm run bench:read -- FILE [--model A.trd --model B.trd ...] [--bytes 60000] [--backend wasm] [--engines tfjs,onnx]`:
// how long the app takes to read a real book into memory, per model. For each model, the first
// --bytes of FILE (a UTF-8 text; cut at a line break) are imported into a fresh library and read
// through the app's own reading path (the worker: forward pass, memory update, surprise trace,
// checkpoints, SQLite), and it prints tokens/s, bytes/s and the projected time for a 1 MB book
// (reading time is linear in the tokens), with the ratio to the first model, measured in the same
// run. Without --model it measures the shipped default model. Each model is read by each engine
// (core/reading/reading-engine.ts: TensorFlow.js alone, or onnxruntime's reading step where it
// applies), so the table compares them in the same run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInProcessClient } from '../../core/api/in-process.js';
import { createCore } from '../../core/app.js';
import { parseReadEngine, type ReadEngine } from '../../core/reading/reading-engine.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const models = argv.flatMap((a, i) => (a === '--model' && argv[i + 1] ? [path.resolve(argv[i + 1]!)] : []));
const file = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const bytes = Number(opt('bytes', '60000'));
const backend = opt('backend', process.env.TITANS_BACKEND ?? '');
const engines = opt('engines', 'tfjs,onnx').split(',').map((e) => parseReadEngine(e.trim())!);

interface Row {
  model: string;
  parameters: number;
  backend: string;
  tokens: number;
  bytes: number;
  seconds: number;
  /** the process's peak resident memory after this reading (it never goes down: the max so far) */
  peakRssMB: number;
}

async function readOnce(text: string, modelFile: string | undefined, work: string, readEngine: ReadEngine): Promise<Row> {
  const dataDir = fs.mkdtempSync(path.join(work, 'lib-'));
  const core = createCore({ dataDir, transport: 'in-process', reading: { ...(modelFile ? { modelFile } : {}), ...(backend ? { backend } : {}), readEngine } });
  const api = createInProcessClient(core.server);
  try {
    const { model, backend: used } = await core.reading.model();
    const src = path.join(work, 'book.txt');
    fs.writeFileSync(src, text);
    const { document } = await api.call('library.importPath', { path: src });
    // timed from the start of reading to idle: model loading and the import are not reading; the
    // first chunk's set-up and the final save of the memory state are
    const t0 = performance.now();
    await api.call('reading.start', { id: document.id });
    await core.reading.whenIdle();
    const t1 = performance.now();
    const [status] = await api.call('reading.list', { id: document.id });
    const tokens = status!.tokensDone;
    const seconds = (t1 - t0) / 1000;
    return { model: modelFile ? path.relative(process.cwd(), modelFile) : model.name, parameters: model.parameters, backend: used, tokens, bytes: Buffer.byteLength(text, 'utf8'), seconds, peakRssMB: process.resourceUsage().maxRSS / 1024 };
  } finally {
    await core.close();
  }
}

async function main(): Promise<number> {
  if (!file) {
    console.error('Usage: npm run bench:read -- FILE [--model A.trd ...] [--bytes 60000] [--backend NAME]');
    return 2;
  }
  const full = fs.readFileSync(file, 'utf8');
  let cut = full;
  if (Buffer.byteLength(full, 'utf8') > bytes) {
    cut = Buffer.from(full, 'utf8').subarray(0, bytes).toString('utf8');
    const nl = cut.lastIndexOf('\n');
    if (nl > bytes / 2) cut = cut.slice(0, nl + 1);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'titans-bench-read-'));
  const rows: Row[] = [];
  try {
    for (const m of models.length ? models : [undefined]) {
      for (const engine of engines) {
        const r = await readOnce(cut, m, work, engine);
        rows.push(r);
        console.error(`${r.model}, ${r.backend}: ${r.tokens} tokens in ${r.seconds.toFixed(1)} s`);
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const base = rows[0]!;
  const perMb = (r: Row) => (r.seconds / r.bytes) * 1_000_000;
  console.log(`\nReading ${path.basename(file)} (first ${base.bytes.toLocaleString('en')} bytes) into memory through the app, ${os.cpus().length} cores\n`);
  console.log('| model | parameters | backend (and reading engine) | tokens | bytes/token | tokens/s | KB/s | 1 MB book (min) | speed vs first | peak RSS so far (MB) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${(r.parameters / 1e6).toFixed(2)}M | ${r.backend} | ${r.tokens.toLocaleString('en')} | ${(r.bytes / r.tokens).toFixed(2)} | ${Math.round(r.tokens / r.seconds).toLocaleString('en')} | ${(r.bytes / r.seconds / 1000).toFixed(1)} | ${(perMb(r) / 60).toFixed(1)} | ${(perMb(base) / perMb(r)).toFixed(2)}x | ${r.peakRssMB.toFixed(0)} |`,
    );
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
