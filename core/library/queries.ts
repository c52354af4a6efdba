// Reads of the library: summaries, the reader's blocks, find-in-document, text ranges and places.
import type { DocumentDetail, DocumentSummary, FindMatch, PageMark } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import { countNewlines } from '../ingest/assembler.js';
import { LATEST_READING_SQL, parseReadingBrief } from './reading-status.js';
import type { Db } from './database.js';

const SUMMARY_SQL = `
  SELECT d.id, d.title, d.author, d.format, d.file_name AS fileName, d.file_size AS fileSize, d.encoding,
         d.char_count AS chars, d.line_count AS lines, d.imported_at AS importedAt,
         (SELECT count(*) FROM chapters c WHERE c.doc_id = d.id) AS chapters,
         (SELECT count(*) FROM pages p WHERE p.doc_id = d.id) AS pages,
         ${LATEST_READING_SQL} AS reading
  FROM documents d WHERE d.status = 'ready'`;

type SummaryRow = Omit<DocumentSummary, 'reading'> & { reading: string | null };
const toSummary = (r: SummaryRow): DocumentSummary => ({ ...r, reading: parseReadingBrief(r.reading) });

export function listDocuments(db: Db): DocumentSummary[] {
  return (db.prepare(`${SUMMARY_SQL} ORDER BY d.imported_at DESC, d.id DESC`).all() as SummaryRow[]).map(toSummary);
}

export function getSummary(db: Db, id: number): DocumentSummary {
  const row = db.prepare(`${SUMMARY_SQL} AND d.id = ?`).get(id) as SummaryRow | undefined;
  if (!row) throw new ApiError('not_found', `Document ${id} is not in the library.`, 'It may have been deleted; refresh the library.');
  return toSummary(row);
}

export function getDetail(db: Db, id: number): DocumentDetail {
  const summary = getSummary(db, id);
  const chapterList = db
    .prepare(`SELECT title, level, start_char AS start, line FROM chapters WHERE doc_id = ? ORDER BY idx`)
    .all(id) as DocumentDetail['chapterList'];
  const blocks = db
    .prepare(`SELECT start_char AS start, char_len AS length, start_line AS line FROM doc_blocks WHERE doc_id = ? ORDER BY idx`)
    .all(id) as DocumentDetail['blocks'];
  const pageList = db.prepare(`SELECT start_char AS start, number, label FROM pages WHERE doc_id = ? ORDER BY idx`).all(id) as DocumentDetail['pageList'];
  return { ...summary, chapterList, pageList, blocks };
}

export function deleteDocument(db: Db, id: number): boolean {
  return db.prepare(`DELETE FROM documents WHERE id = ?`).run(id).changes > 0;
}

export function readBlocks(db: Db, id: number, from: number, count: number): Array<{ index: number; start: number; text: string }> {
  getSummary(db, id);
  return db
    .prepare(`SELECT idx AS "index", start_char AS start, text FROM doc_blocks WHERE doc_id = ? AND idx >= ? AND idx < ? ORDER BY idx`)
    .all(id, from, from + count) as Array<{ index: number; start: number; text: string }>;
}

/** Stored blocks from index `from` on, at most `count`, for streaming a document's text (no existence check: the reader checks once). */
export function blocksFrom(db: Db, id: number, from: number, count: number): Array<{ start: number; text: string }> {
  return db.prepare(`SELECT start_char AS start, text FROM doc_blocks WHERE doc_id = ? AND idx >= ? ORDER BY idx LIMIT ?`).all(id, from, count) as Array<{ start: number; text: string }>;
}

/** The document is in the library and ready to read. */
export function isReady(db: Db, id: number): boolean {
  return db.prepare(`SELECT 1 FROM documents WHERE id = ? AND status = 'ready'`).get(id) !== undefined;
}

/** The document's length in characters (0 when it is gone). */
export function charCount(db: Db, id: number): number {
  return (db.prepare(`SELECT char_count FROM documents WHERE id = ?`).pluck().get(id) as number | undefined) ?? 0;
}

const CONTEXT = 60;

/** Every occurrence of `query` in the document, in order, with its line and some context around it. */
export function findInDocument(db: Db, id: number, query: string, caseSensitive: boolean, limit: number): { matches: FindMatch[]; truncated: boolean } {
  getSummary(db, id);
  const pattern = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), caseSensitive ? 'gu' : 'giu');
  const matches: FindMatch[] = [];
  // Carry the end of the previous block so a match that spans two blocks is found.
  const carryLen = Math.max(query.length * 2, CONTEXT);
  let carry = '';
  let carryStart = 0;
  let carryLine = 1;
  const rows = db.prepare(`SELECT start_char AS start, start_line AS line, text FROM doc_blocks WHERE doc_id = ? ORDER BY idx`).iterate(id) as Iterable<{ start: number; line: number; text: string }>;
  for (const block of rows) {
    const text = carry + block.text;
    const base = carryStart;
    let lineAt = carryLine;
    let scanned = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
      if (m[0].length === 0) {
        pattern.lastIndex++;
        continue;
      }
      if (m.index + m[0].length <= carry.length) continue; // inside the previous block: found already
      const absStart = base + m.index;
      lineAt += countNewlines(text.slice(scanned, m.index));
      scanned = m.index;
      matches.push({
        start: absStart,
        end: absStart + m[0].length,
        line: lineAt,
        context: text.slice(Math.max(0, m.index - CONTEXT), m.index + m[0].length + CONTEXT).replace(/\s+/g, ' '),
      });
      if (matches.length >= limit) return { matches, truncated: true };
    }
    const keep = Math.min(carryLen, block.text.length);
    carry = block.text.slice(block.text.length - keep);
    carryStart = block.start + block.text.length - keep;
    carryLine = block.line + countNewlines(block.text.slice(0, block.text.length - keep));
  }
  return { matches, truncated: false };
}

/** A document's title (any status). */
export function documentTitle(db: Db, id: number): string {
  return db.prepare(`SELECT title FROM documents WHERE id = ?`).pluck().get(id) as string;
}

/** The text in [start, end) and the line it starts on (for citations and passage lists). */
export function textRange(db: Db, id: number, start: number, end: number): { text: string; line: number } {
  const blocks = db
    .prepare(`SELECT start_char AS start, start_line AS line, text FROM doc_blocks WHERE doc_id = ? AND start_char < ? AND start_char + char_len > ? ORDER BY idx`)
    .all(id, Math.max(end, start + 1), start) as Array<{ start: number; line: number; text: string }>;
  if (blocks.length === 0) return { text: '', line: 1 };
  const first = blocks[0]!;
  const joined = blocks.map((b) => b.text).join('');
  return { text: joined.slice(start - first.start, end - first.start), line: first.line + countNewlines(first.text.slice(0, start - first.start)) };
}

/** The page (or location) and the chapter a position falls in. */
export function placeOf(db: Db, id: number, offset: number): { page: PageMark | null; chapter: string | null } {
  const page = db.prepare(`SELECT start_char AS start, number, label FROM pages WHERE doc_id = ? AND start_char <= ? ORDER BY start_char DESC, idx DESC LIMIT 1`).get(id, offset) as PageMark | undefined;
  const chapter = db.prepare(`SELECT title FROM chapters WHERE doc_id = ? AND start_char <= ? ORDER BY start_char DESC, idx DESC LIMIT 1`).pluck().get(id, offset) as string | undefined;
  return { page: page ?? null, chapter: chapter ?? null };
}
