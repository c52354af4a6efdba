// `npm run eval -- perplexity FILE... [--model F] [--max-bytes N] [--backend NAME] [--out DIR]`:
// how well the model predicts any text, in bits per byte, and what its neural memory adds.
// For each file (UTF-8 text; any book, not only ../shared/data's) it prints bits/byte with the
// memory reading the whole text, with the state reset at every segment, and with the memory
// switched off (models/model/token-loss.ts), the same three by position decile of the text, the
// reading speed, and beside them gzip -9 and brotli -11 (node:zlib) on the same bytes. JSON too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { SYNC_BACKEND_ORDER, selectBackend } from '../models/backend.js';
import { decodeCheckpoint } from '../models/checkpoint/format.js';
import { modelFromCheckpoint } from '../models/model/io.js';
import { bitsPerByte, tokenLosses, type MemoryMode } from '../models/model/token-loss.js';
import { shippedModelFile } from '../models/default/default-model.js';

export interface PerplexityReport {
  file: string;
  bytes: number;
  tokens: number;
  model: { file: string; name: string; parameters: number; arch: string };
  backend: string;
  bitsPerByte: Record<MemoryMode, number>;
  compressors: { 'gzip -9': number; 'brotli -11': number };
  /** per position decile of the text: bits/byte in each mode */
  deciles: Array<Record<MemoryMode, number>>;
  readingTokensPerSecond: number;
}

const MODES: MemoryMode[] = ['memory', 'reset', 'off'];

export async function evalPerplexity(argv: string[]): Promise<number> {
  const files = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  const opt = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (files.length === 0) {
    console.error('Usage: npm run eval -- perplexity FILE... [--model F] [--max-bytes N] [--backend NAME] [--out DIR]');
    return 2;
  }
  const modelFile = opt('model') ? path.resolve(opt('model')!) : shippedModelFile();
  if (!modelFile) {
    console.error('No model: the default model is missing from models/default/ (git checkout -- models/default), or give --model FILE.');
    return 2;
  }
  const maxBytes = opt('max-bytes') ? Number(opt('max-bytes')) : Infinity;
  const backend = await selectBackend(opt('backend') ? { force: opt('backend')! } : { order: SYNC_BACKEND_ORDER });
  const { model, tokenizer, meta } = modelFromCheckpoint(decodeCheckpoint(fs.readFileSync(modelFile)));
  const name = String(meta.name ?? path.basename(modelFile));
  const reports: PerplexityReport[] = [];
  try {
    for (const file of files) {
      let buf = fs.readFileSync(file);
      if (buf.length > maxBytes) buf = buf.subarray(0, maxBytes);
      const text = new TextDecoder('utf-8', { fatal: false }).decode(buf);
      const bytes = Buffer.from(text, 'utf8'); // what the model reads (a cut multi-byte character is replaced)
      const ids = tokenizer.encode(text).ids;
      const targetBytes = new Uint32Array(ids.length - 1);
      for (let i = 1; i < ids.length; i++) targetBytes[i - 1] = tokenizer.bytesOf(ids[i]!).length;
      console.log(`\n${file}: ${bytes.length.toLocaleString('en')} bytes, ${ids.length.toLocaleString('en')} tokens; ${name} (${(model.parameterCount / 1e6).toFixed(2)}M parameters), ${backend.name}`);
      const losses = {} as Record<MemoryMode, Float32Array>;
      let readingTokensPerSecond = 0;
      for (const mode of MODES) {
        if (mode === 'off' && model.config.arch === 'lmm') continue;
        const t0 = performance.now();
        losses[mode] = tokenLosses(model, ids, mode, {
          onProgress: (done, total) => {
            if (process.stderr.isTTY) process.stderr.write(`\r  ${mode}: ${((100 * done) / total).toFixed(0)}%   `);
          },
        });
        const seconds = (performance.now() - t0) / 1000;
        if (mode === 'memory') readingTokensPerSecond = ids.length / seconds;
        process.stderr.write(`\r  ${mode}: ${seconds.toFixed(1)} s\n`);
      }
      const bpb = (m: MemoryMode, from?: number, to?: number) => (losses[m] ? bitsPerByte(losses[m], targetBytes, from, to) : NaN);
      const n = ids.length - 1;
      const deciles = Array.from({ length: 10 }, (_, d) => Object.fromEntries(MODES.map((m) => [m, bpb(m, Math.floor((d * n) / 10), Math.floor(((d + 1) * n) / 10))])) as Record<MemoryMode, number>);
      const gzip = (8 * zlib.gzipSync(bytes, { level: 9 }).length) / bytes.length;
      const brotli = (8 * zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_LGWIN]: 24, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length) / bytes.length;
      const report: PerplexityReport = {
        file: path.resolve(file),
        bytes: bytes.length,
        tokens: ids.length,
        model: { file: modelFile, name, parameters: model.parameterCount, arch: model.config.arch },
        backend: backend.name,
        bitsPerByte: { memory: bpb('memory'), reset: bpb('reset'), off: bpb('off') },
        compressors: { 'gzip -9': gzip, 'brotli -11': brotli },
        deciles,
        readingTokensPerSecond,
      };
      reports.push(report);
      const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
      console.log('\n| | bits/byte |\n|---|---|');
      console.log(`| with memory (reads the whole text) | ${f(report.bitsPerByte.memory)} |`);
      console.log(`| memory reset at every segment | ${f(report.bitsPerByte.reset)} |`);
      console.log(`| memory off | ${f(report.bitsPerByte.off)} |`);
      console.log(`| gzip -9 | ${f(gzip)} |`);
      console.log(`| brotli -11 | ${f(brotli)} |`);
      console.log('\n| decile of the text | with memory | reset per segment | memory off | reset − memory |\n|---|---|---|---|---|');
      deciles.forEach((d, i) => console.log(`| ${i + 1} | ${f(d.memory)} | ${f(d.reset)} | ${f(d.off)} | ${f(d.reset - d.memory)} |`));
      console.log(`\nReading (with memory): ${Math.round(readingTokensPerSecond).toLocaleString('en')} tokens/s on ${backend.name}, ${os.cpus().length} cores.`);
    }
  } finally {
    model.dispose();
  }
  const outDir = path.resolve(opt('out') ?? 'eval-results');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `perplexity-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(out, `${JSON.stringify(reports, null, 2)}\n`);
  console.log(`\nWritten: ${out}`);
  return 0;
}
