// Fuzzing the importers (issue 13): valid generated documents of every format (text, Markdown,
// HTML, PDF, EPUB, DOCX), mutated (byte flips, truncation, repetition, deep nesting, oversized
// fields, inside the ZIP archives too), go through the real importer into a real library for a
// fixed time. Each case must end in a document or a typed ApiError: no other exception, no hang,
// no code 'internal'. Afterwards the library passes PRAGMA integrity_check and the documents
// imported before are unchanged.
//
//   TITANS_FUZZ_SEED=<n>      repeat a run (the seed is printed at the start and with any failure;
//                             default a fixed seed, "random" for a new one)
//   TITANS_FUZZ_SECONDS=<s>   time budget (default 60)
//   TITANS_FUZZ_CASES=<n>     run exactly n cases instead, whatever the time
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERROR_CODES, ApiError } from '../../../core/api/errors.js';
import { closeParseWorkers } from '../../../core/ingest/parse-in-worker.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { deleteDocument, readBlocks } from '../../../core/library/queries.js';
import { HTML_PAGE, makeDocx, makeEpub2, makeEpub3, makePdf } from '../../fixtures/documents/make.js';
import { makeBook, rng, tempDir, writeFile } from '../../fixtures/texts.js';

// a fixed default seed keeps CI reproducible; TITANS_FUZZ_SEED=random explores new cases
const SEED_ENV = process.env['TITANS_FUZZ_SEED'];
const SEED = SEED_ENV === 'random' ? Math.floor(Math.random() * 2 ** 31) : SEED_ENV ? Number(SEED_ENV) >>> 0 : 810080198;
const BUDGET_MS = Number(process.env['TITANS_FUZZ_SECONDS'] ?? 60) * 1000;
const CASES = process.env['TITANS_FUZZ_CASES'] ? Number(process.env['TITANS_FUZZ_CASES']) : null;
/** A mutated file is kept below this size (repetition could otherwise grow without end). */
const MAX_CASE_BYTES = 3 * 1024 * 1024;
/** Per case: a parse that runs longer is stopped by the worker's time limit (a typed error). */
const CASE_TIME_LIMIT_MS = 15_000;

type Format = 'txt' | 'md' | 'html' | 'pdf' | 'epub' | 'docx';
interface Base {
  format: Format;
  ext: string;
  bytes: Buffer;
  /** for ZIP formats: the archive, to mutate what is inside */
  zip?: JSZip;
}
interface Case {
  bytes: Buffer;
  ext: string;
  what: string;
}

const MARKDOWN = `---\ntitle: "The Keeper's Notes"\nauthor: Ada Keeper\n---\n\n# Part One\n\nThe keeper wrote every night.\n\n## The First Winter\n\n\`\`\`\ncode block # not a heading\n\`\`\`\n\nSetext heading\n==============\n\n> quoted *text* and a [link](http://example.com)\n\n- a list\n- of items\n`;

let dir: string;
let db: Db;
let keepers: Array<{ id: number; text: string; sha256: string; chars: number }>;
const bases: Base[] = [];

const fullText = (id: number) => readBlocks(db, id, 0, 1_000_000).map((b) => b.text).join('');

beforeAll(async () => {
  dir = tempDir('titans-fuzz-');
  db = openDatabase(path.join(dir, 'library.sqlite'));
  const add = async (format: Format, ext: string, bytes: Buffer | string) => {
    const b = Buffer.from(bytes);
    bases.push({ format, ext, bytes: b, zip: format === 'epub' || format === 'docx' ? await JSZip.loadAsync(b) : undefined });
  };
  await add('txt', '.txt', makeBook({ chapters: 3, paragraphsPerChapter: 4, seed: 3 }));
  await add('md', '.md', MARKDOWN);
  await add('html', '.html', HTML_PAGE);
  await add('pdf', '.pdf', await makePdf());
  await add('epub', '.epub', await makeEpub3());
  await add('epub', '.epub', await makeEpub2());
  await add('docx', '.docx', await makeDocx());
  // Documents imported before the fuzzing, one streamed and one parsed: they must come out unchanged.
  keepers = [];
  for (const [name, data] of [['keeper.txt', makeBook({ chapters: 2, paragraphsPerChapter: 3, seed: 99, title: 'Keeper' })], ['keeper.epub', await makeEpub3()]] as const) {
    const { document } = await importFile(db, writeFile(dir, name, data));
    const row = db.prepare('SELECT sha256, char_count AS chars FROM documents WHERE id = ?').get(document.id) as { sha256: string; chars: number };
    keepers.push({ id: document.id, text: fullText(document.id), ...row });
  }
}, 120_000);

afterAll(async () => {
  await closeParseWorkers();
  db?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---- mutations ----

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
/** Sizes from tiny to large, skewed small. */
const size = (r: Rand, max: number) => Math.max(1, Math.floor(max ** r()));
const cap = (b: Buffer) => (b.length > MAX_CASE_BYTES ? b.subarray(0, MAX_CASE_BYTES) : b);

const MARKUP_TOKENS = ['<', '>', '</', '/>', '<p>', '</p>', '<div>', '</div>', '<h1>', '</h1>', '<li>', '<ol>', '<ul>', '<a href="#x">', '</a>', '<br/>', '<span id="x"/>', '<pre>', '</pre>', '<table><tr><td>', '<script>', '</script>', '<style>', '<!--', '-->', '<![CDATA[', ']]>', '<?xml version="1.0"?>', '<!DOCTYPE html>', '&amp;', '&#x', '&#1114112;', '&nbsp;', '"', "'", '=', '\u0000', '\uFFFF', '\uD800', '\u2028', '\r', '\n\n', '#', '# Chapter', 'CHAPTER IV', 'title: x'];
const PDF_TOKENS = ['[', ']', '<<', '>>', '(', ')', '/Count 999999999', '/Length 99999999', '/Kids [', 'obj', 'endobj', 'stream\n', '\nendstream', 'xref', 'trailer', 'startxref\n0', '%%EOF', '1 0 R', '-1', '99999999999999999999', '/Filter /FlateDecode', '/Type /Page', '\\', '\u0000'];

/** Markup or text mutations: nesting, traps for backtracking scanners, oversized fields, token soup. */
function mutateText(r: Rand, s: string, tokens: readonly string[]): { text: string; what: string } {
  const at = int(r, s.length + 1);
  const ins = (x: string) => s.slice(0, at) + x + s.slice(at);
  switch (int(r, 9)) {
    case 0: {
      const n = size(r, 30_000);
      const [open, close] = pick(r, [['<div>', '</div>'], ['<ul><li>', '</li></ul>'], ['<span>', '</span>'], ['<blockquote>', ''], ['<ol><li><a href="x">', ''], ['> ', ''], ['[', ']']] as const);
      return { text: ins(open.repeat(n) + 'nested' + close.repeat(int(r, 2) * n)), what: `nest ${JSON.stringify(open)} x${n} at ${at}` };
    }
    case 1: {
      const n = size(r, 200_000);
      const trap = pick(r, ['<a', '<?xml', '<!---->', '<p class="', '# a', 'title: a', '<img src=x']);
      return { text: ins(trap + ' '.repeat(n) + pick(r, ['', 'x', '/>', '>'])), what: `trap ${JSON.stringify(trap)} + ${n} spaces at ${at}` };
    }
    case 2: {
      const n = size(r, 1_000_000);
      return { text: ins(`<p title="${'x'.repeat(n)}">${'y'.repeat(int(r, 3) * n)}</p>`), what: `oversized attribute/text ${n} at ${at}` };
    }
    case 3: {
      const len = size(r, 4096);
      const times = size(r, 2000);
      return { text: ins(s.slice(at, at + len).repeat(times)), what: `repeat ${len} chars x${times} at ${at}` };
    }
    case 4: {
      const k = size(r, 200);
      let t = s;
      for (let i = 0; i < k; i++) {
        const p = int(r, t.length + 1);
        t = t.slice(0, p) + pick(r, tokens) + t.slice(p);
      }
      return { text: t, what: `${k} tokens` };
    }
    case 5: {
      const len = size(r, s.length);
      return { text: s.slice(0, at) + s.slice(at + len), what: `delete ${len} at ${at}` };
    }
    case 6:
      return { text: s.slice(0, at), what: `truncate at ${at}` };
    case 7: {
      const laughs = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>';
      const m = /<\?xml[^>]{0,200}\?>/.exec(s);
      const p = m ? m.index + m[0].length : 0;
      return { text: s.slice(0, p) + laughs + s.slice(p).replace(/>([^<]{1,40})</, '>&d;&d;&d;$1<'), what: 'entity expansion' };
    }
    default: {
      const n = size(r, 20_000);
      const unit = s.slice(at, at + size(r, 200)) || '<p>x</p>';
      return { text: ins(Array.from({ length: n }, () => unit).join('')), what: `repetition of ${unit.length} chars x${n} at ${at}` };
    }
  }
}

/** Byte mutations of any file. */
function mutateBytes(r: Rand, b: Buffer): { bytes: Buffer; what: string } {
  switch (int(r, 5)) {
    case 0: {
      const out = Buffer.from(b);
      const k = size(r, 64);
      for (let i = 0; i < k; i++) out[int(r, out.length)] = int(r, 256);
      return { bytes: out, what: `flip ${k} bytes` };
    }
    case 1: {
      const at = int(r, b.length);
      return { bytes: b.subarray(0, at), what: `truncate at ${at}` };
    }
    case 2: {
      const at = int(r, b.length);
      const len = size(r, 4096);
      const times = size(r, 500);
      const slice = b.subarray(at, at + len);
      return { bytes: Buffer.concat([b.subarray(0, at), ...Array.from({ length: times }, () => slice), b.subarray(at)]), what: `repeat bytes ${at}+${len} x${times}` };
    }
    case 3: {
      const at = int(r, b.length);
      const noise = Buffer.from(Array.from({ length: size(r, 4096) }, () => int(r, 256)));
      return { bytes: Buffer.concat([b.subarray(0, at), noise, b.subarray(at)]), what: `insert ${noise.length} random bytes at ${at}` };
    }
    default: {
      const at = int(r, b.length);
      const len = size(r, 1024);
      const out = Buffer.from(b);
      out.fill(pick(r, [0, 0xff, 0x20]), at, Math.min(out.length, at + len));
      return { bytes: out, what: `fill ${at}+${len}` };
    }
  }
}

/** Oversized or impossible fields in a ZIP's directory and local headers. */
function mutateZipFields(r: Rand, zip: Buffer): { bytes: Buffer; what: string } {
  const out = Buffer.from(zip);
  let eocd = out.length - 22;
  while (eocd > 0 && out.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  const count = out.readUInt16LE(eocd + 10);
  const records: number[] = [];
  for (let i = 0, p = out.readUInt32LE(eocd + 16); i < count; i++) {
    records.push(p);
    p += 46 + out.readUInt16LE(p + 28) + out.readUInt16LE(p + 30) + out.readUInt16LE(p + 32);
  }
  const rec = pick(r, records);
  const value32 = pick(r, [0, 1, 0x7fffffff, 0xffffffff, int(r, 2 ** 32), out.length, out.length + 1]);
  const value16 = pick(r, [0, 1, 0xffff, int(r, 0x10000)]);
  const field = pick(r, [
    ['method', rec + 10, 2],
    ['compressed size', rec + 20, 4],
    ['uncompressed size', rec + 24, 4],
    ['name length', rec + 28, 2],
    ['extra length', rec + 30, 2],
    ['comment length', rec + 32, 2],
    ['local offset', rec + 42, 4],
    ['entry count', eocd + 10, 2],
    ['directory offset', eocd + 16, 4],
    ['local name length', out.readUInt32LE(rec + 42) + 26, 2],
    ['local extra length', out.readUInt32LE(rec + 42) + 28, 2],
  ] as const);
  const [name, offset, width] = field;
  if (offset + width > out.length) return { bytes: out, what: `zip ${name}: out of range, unchanged` };
  if (width === 2) out.writeUInt16LE(value16, offset);
  else out.writeUInt32LE(value32 >>> 0, offset);
  return { bytes: out, what: `zip ${name} = ${width === 2 ? value16 : value32}` };
}

async function makeCase(r: Rand, base: Base): Promise<Case> {
  const choice = int(r, 10);
  let ext = base.ext;
  // Now and then under another format's name: the bytes must decide.
  if (int(r, 12) === 0) ext = pick(r, ['.txt', '.md', '.html', '.pdf', '.epub', '.docx']);
  if (base.zip && choice < 5) {
    // Inside the archive: mutate one entry's XML/XHTML and pack it again.
    const zip = await JSZip.loadAsync(base.bytes);
    const names = Object.keys(zip.files).filter((n) => !zip.files[n]!.dir && /\.(xml|xhtml|html|opf|ncx|rels)$/.test(n));
    const entry = pick(r, names);
    const { text, what } = mutateText(r, await zip.file(entry)!.async('string'), MARKUP_TOKENS);
    zip.file(entry, text);
    const bytes = await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', compressionOptions: { level: 1 } });
    return { bytes: cap(bytes), ext, what: `${entry}: ${what}` };
  }
  if (base.zip && choice < 7) return { ...mutateZipFields(r, base.bytes), ext };
  if (!base.zip && choice < 6) {
    const tokens = base.format === 'pdf' ? PDF_TOKENS : MARKUP_TOKENS;
    const { text, what } = mutateText(r, base.bytes.toString('latin1'), tokens);
    return { bytes: cap(Buffer.from(text, base.format === 'pdf' ? 'latin1' : 'utf8')), ext, what };
  }
  const { bytes, what } = mutateBytes(r, base.bytes);
  return { bytes: cap(bytes), ext, what };
}

// ---- the run ----

describe('fuzzing the importers', () => {
  it(
    'every mutated document ends in a document or a typed error, and the library stays whole',
    async () => {
      console.log(`importer fuzz: seed ${SEED} (TITANS_FUZZ_SEED=${SEED} repeats this run), ${CASES !== null ? `${CASES} cases` : `${BUDGET_MS / 1000} s`}`);
      const r = rng(SEED);
      const started = Date.now();
      const failures: string[] = [];
      const outcomes = new Map<string, number>();
      let slowest = { ms: 0, what: '' };
      let n = 0;
      for (; CASES !== null ? n < CASES : Date.now() - started < BUDGET_MS; n++) {
        const base = bases[n % bases.length]!;
        const c = await makeCase(r, base);
        const label = `case ${n} (seed ${SEED}): ${base.format} as ${c.ext}, ${c.what}, ${c.bytes.length} bytes`;
        const file = writeFile(dir, `case-${n}${c.ext}`, c.bytes);
        const t0 = Date.now();
        let outcome: string;
        try {
          const { document, duplicate } = await importFile(db, file, { limits: { timeoutMs: CASE_TIME_LIMIT_MS } });
          outcome = duplicate ? 'duplicate' : 'document';
          // A document is whole: its stored text is as long as it says, and it is ready.
          const text = fullText(document.id);
          if (text.length !== document.chars || document.chars === 0) failures.push(`${label}: document ${document.id} has ${text.length} stored characters, ${document.chars} counted`);
          if (!duplicate && int(r, 2) === 0) deleteDocument(db, document.id);
        } catch (e) {
          if (!(e instanceof ApiError)) {
            failures.push(`${label}: threw ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
            outcome = 'UNTYPED';
          } else {
            outcome = e.code;
            if (!API_ERROR_CODES.includes(e.code) || e.code === 'internal' || !e.message) failures.push(`${label}: ApiError ${e.code}: ${e.message}`);
          }
        }
        const ms = Date.now() - t0;
        if (ms > slowest.ms) slowest = { ms, what: label };
        outcomes.set(`${base.format}:${outcome}`, (outcomes.get(`${base.format}:${outcome}`) ?? 0) + 1);
        if (failures.length > 0 && failures.at(-1)!.startsWith(label)) {
          const keep = path.join(os.tmpdir(), `titans-fuzz-failures-${SEED}`);
          fs.mkdirSync(keep, { recursive: true });
          fs.copyFileSync(file, path.join(keep, path.basename(file)));
        }
        fs.rmSync(file, { force: true });
      }
      const elapsed = (Date.now() - started) / 1000;
      console.log(`importer fuzz: ${n} cases in ${elapsed.toFixed(1)} s; slowest ${slowest.ms} ms (${slowest.what})`);
      console.log([...outcomes].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n'));
      if (failures.length > 0) console.log(`importer fuzz: failing inputs kept in ${path.join(os.tmpdir(), `titans-fuzz-failures-${SEED}`)}`);
      expect(failures, `seed ${SEED}`).toEqual([]);

      // The library is whole and the documents imported before are unchanged.
      expect(db.prepare('PRAGMA integrity_check').pluck().all()).toEqual(['ok']);
      expect(db.prepare(`SELECT count(*) FROM documents WHERE status != 'ready'`).pluck().get()).toBe(0);
      for (const k of keepers) {
        const row = db.prepare('SELECT sha256, char_count AS chars FROM documents WHERE id = ?').get(k.id) as { sha256: string; chars: number };
        expect(row).toEqual({ sha256: k.sha256, chars: k.chars });
        expect(fullText(k.id)).toBe(k.text);
      }
    },
    (CASES !== null ? CASES * 20_000 : BUDGET_MS) + 120_000,
  );
});
