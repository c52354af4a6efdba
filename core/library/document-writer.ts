// Writes one document into the library: the row (status 'importing' until finish), the text in
// blocks, its passages into FTS5, chapters and pages. Every format's importer goes through it, so a
// failure anywhere removes the partial document (abort) and a crash leaves a row the sweep removes.
import type { Chapter, DocumentFormat, PageMark } from '../api/contract.js';
import type { Block } from '../ingest/assembler.js';
import { PassageSplitter, type Passage } from '../ingest/passages.js';
import type { Db } from './database.js';
import { PROCESS_START } from '../process.js';

export interface NewDocument {
  title: string;
  format: DocumentFormat;
  fileName: string;
  fileSize: number;
  sha256: string;
  encoding: string;
}

export class DocumentWriter {
  readonly docId: number;
  private passageIndex = 0;
  private readonly pendingPassages: Passage[] = [];
  private readonly splitter: PassageSplitter;
  private readonly insertBlock;
  private readonly insertPassage;
  private readonly insertFts;

  constructor(
    private readonly db: Db,
    doc: NewDocument,
    /** page and chapter starts: passages never span two pages or chapters */
    pageStarts: number[] = [],
  ) {
    this.splitter = new PassageSplitter((p) => this.pendingPassages.push(p), pageStarts);
    this.docId = Number(
      db
        .prepare(`INSERT INTO documents (title, format, file_name, file_size, sha256, encoding, status, import_pid, import_pid_start, imported_at) VALUES (?, ?, ?, ?, ?, ?, 'importing', ?, ?, ?)`)
        .run(doc.title, doc.format, doc.fileName, doc.fileSize, doc.sha256, doc.encoding, process.pid, PROCESS_START, new Date().toISOString()).lastInsertRowid,
    );
    this.insertBlock = db.prepare(`INSERT INTO doc_blocks (doc_id, idx, start_char, start_line, char_len, text) VALUES (?, ?, ?, ?, ?, ?)`);
    this.insertPassage = db.prepare(`INSERT INTO passages (doc_id, idx, start_char, end_char) VALUES (?, ?, ?, ?)`);
    this.insertFts = db.prepare(`INSERT INTO passages_fts (rowid, text) VALUES (?, ?)`);
  }

  /** Chapter (or page) starts found while streaming: passages break there too. Call before adding the blocks that hold them. */
  addBreaks(offsets: number[]): void {
    this.splitter.addBreaks(offsets);
  }

  /** Blocks in order; their passages are indexed in the same transaction. */
  addBlocks(blocks: Block[]): void {
    if (blocks.length === 0) return;
    for (const b of blocks) this.splitter.push(b.text);
    this.db.transaction(() => {
      for (const b of blocks) this.insertBlock.run(this.docId, b.index, b.start, b.line, b.text.length, b.text);
      this.writePassages();
    })();
  }

  /** Closes the document: the last passage, chapters, pages and metadata, then status 'ready'. */
  finish(meta: { title: string; author: string | null; chars: number; lines: number; chapters: Chapter[]; pages?: PageMark[] }): void {
    this.splitter.end();
    const insertChapter = this.db.prepare(`INSERT INTO chapters (doc_id, idx, title, level, start_char, line) VALUES (?, ?, ?, ?, ?, ?)`);
    const insertPage = this.db.prepare(`INSERT INTO pages (doc_id, idx, start_char, number, label) VALUES (?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      this.writePassages();
      meta.chapters.forEach((c, i) => insertChapter.run(this.docId, i, c.title, c.level, c.start, c.line));
      (meta.pages ?? []).forEach((p, i) => insertPage.run(this.docId, i, p.start, p.number, p.label));
      this.db
        .prepare(`UPDATE documents SET title = ?, author = ?, char_count = ?, line_count = ?, status = 'ready', import_pid = NULL, import_pid_start = NULL WHERE id = ?`)
        .run(meta.title, meta.author, meta.chars, meta.lines, this.docId);
    })();
  }

  /** Removes everything written so far (blocks, passages, chapters, pages cascade). */
  abort(): void {
    this.db.prepare(`DELETE FROM documents WHERE id = ?`).run(this.docId);
  }

  private writePassages(): void {
    for (const p of this.pendingPassages.splice(0)) {
      const id = this.insertPassage.run(this.docId, this.passageIndex++, p.start, p.start + p.text.length).lastInsertRowid;
      this.insertFts.run(id, p.text);
    }
  }
}
