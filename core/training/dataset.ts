// A fine-tune's dataset: the texts of the files, folders and library documents the user chose,
// gathered once when the job is created and kept in one JSON file beside its checkpoint, so a
// resumed run trains on exactly the same data. A file that cannot be read is skipped and named;
// it never stops the others.
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { parsedFormatByName } from '../ingest/detect.js';
import { parseInWorker } from '../ingest/parse-in-worker.js';
import { readTextFile } from '../ingest/read-text.js';
import type { Db } from '../library/database.js';
import { getSummary, textRange } from '../library/queries.js';

export interface DatasetText {
  source: string; // a file name, or "library: Title"
  text: string;
}

export interface DatasetSummary {
  texts: number;
  chars: number;
  sources: string[];
  skipped: Array<{ source: string; reason: string }>;
}

/** at most this much text in one fine-tune */
export const MAX_DATASET_CHARS = 50_000_000; // tokenized at once: ~200 MB of int32 in the worker
const MAX_FILES = 10_000;
const TEXT_EXTENSIONS = new Set(['.txt', '.text', '.md', '.markdown', '.rst', '.tex', '.csv', '.json', '.org', '']);

/** Every file under the given paths (folders recursively, hidden entries skipped), sorted. */
export function expandPaths(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (out.length > MAX_FILES) throw new ApiError('too_large', `More than ${MAX_FILES} files were chosen.`, 'Choose fewer folders.');
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) throw new ApiError('not_found', `${p} does not exist.`, 'Check the path.');
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) if (!e.startsWith('.')) walk(path.join(p, e));
    } else if (st.isFile()) out.push(p);
  };
  for (const p of paths) walk(path.resolve(p));
  return out;
}

async function fileText(file: string, name: string): Promise<string> {
  const ext = path.extname(name).toLowerCase();
  // parsed in a worker with the importer's time and heap limits: a hostile file fails alone
  if (parsedFormatByName(name)) return (await parseInWorker(file, { displayName: name })).text;
  if (!TEXT_EXTENSIONS.has(ext)) throw new ApiError('unsupported_format', `${name}: not a text or document file.`);
  return readTextFile(file);
}

export interface DatasetSources {
  docIds: number[];
  /** files or folders on this machine */
  paths: string[];
  /** uploaded files: the temporary file and the name the user gave it */
  files: Array<{ file: string; name: string }>;
}

export async function buildDataset(db: Db, src: DatasetSources, outFile: string): Promise<DatasetSummary> {
  const texts: DatasetText[] = [];
  const skipped: DatasetSummary['skipped'] = [];
  let chars = 0;
  const add = (source: string, text: string) => {
    const t = text.trim();
    if (t.length === 0) return skipped.push({ source, reason: 'no text' });
    chars += t.length;
    if (chars > MAX_DATASET_CHARS) throw new ApiError('too_large', `The chosen files hold more than ${MAX_DATASET_CHARS / 1e6} million characters.`, 'Choose fewer files for one fine-tune.');
    texts.push({ source, text: t });
  };
  for (const id of src.docIds) {
    const d = getSummary(db, id); // not_found for a missing document
    add(`library: ${d.title}`, textRange(db, id, 0, d.chars).text);
  }
  const files = [...expandPaths(src.paths).map((file) => ({ file, name: path.basename(file) })), ...src.files];
  for (const f of files) {
    try {
      add(f.name, await fileText(f.file, f.name));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'too_large' && chars > MAX_DATASET_CHARS) throw e;
      skipped.push({ source: f.name, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  if (texts.length === 0) {
    const why = skipped.length ? ` (skipped: ${skipped.slice(0, 3).map((s) => `${s.source}: ${s.reason}`).join('; ')})` : '';
    throw new ApiError('bad_request', `There is no text to fine-tune on${why}.`, 'Choose text files, documents (PDF, EPUB, DOCX, HTML) or library documents.');
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(texts));
  fs.renameSync(tmp, outFile);
  return { texts: texts.length, chars, sources: texts.map((t) => t.source), skipped };
}

export function readDataset(file: string): DatasetText[] {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as DatasetText[];
}
