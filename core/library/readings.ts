// The readings repository: what reading a document into a model's memory writes (the readings
// row, the surprise trace pieces, the final memory state), as data, applied here on the main
// thread. The model worker computes; it sends each write as a chunk of its 'read' call
// (core/reading/protocol.ts), and core/reading/queue.ts applies it with applyReadingWrite, so the
// library has one writer per process. A direct caller (tests, benchmarks) applies them in place.
import { z } from 'zod';
import { PROCESS_START } from '../process.js';
import type { Db } from './database.js';

const Key = { docId: z.number().int().positive(), modelId: z.string().min(1).max(64) };
const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');

export const ReadingWrite = z.discriminatedUnion('kind', [
  /** this process reads it now (the row is made if the document had none) */
  z.object({ kind: z.literal('start'), ...Key, pid: z.number().int(), pidStart: z.number().nullable() }),
  z.object({ kind: z.literal('total'), ...Key, tokens: z.number().int().nonnegative() }),
  z.object({ kind: z.literal('paused'), ...Key }),
  /** trace pieces past the checkpoint a reading resumes from (never kept: they are written with it) */
  z.object({ kind: z.literal('dropTracesFrom'), ...Key, token: z.number().int().nonnegative() }),
  /** one transaction: the trace piece read since the last commit, then the progress with its checkpoint, or the final memory */
  z.object({
    kind: z.literal('commit'),
    ...Key,
    piece: z.object({ index: z.number().int().nonnegative(), startToken: z.number().int().nonnegative(), tokens: z.number().int().positive(), startChar: z.number().int().nonnegative(), endChar: z.number().int().nonnegative(), data: Bytes, summary: Bytes }).nullable(),
    tokensDone: z.number().int().nonnegative(),
    seconds: z.number().nonnegative(),
    /** the state to resume from (not final) */
    checkpoint: Bytes.nullable(),
    /** the document's memory after the whole text (final) */
    memory: z.object({ state: Bytes, backend: z.string() }).nullable(),
  }),
]);
export type ReadingWrite = z.infer<typeof ReadingWrite>;

export interface ReadingRow {
  status: string;
  tokensDone: number;
  tokensTotal: number | null;
  seconds: number;
  checkpoint: Buffer | null;
}

/** better-sqlite3 binds Buffers: a Uint8Array that crossed a worker boundary is viewed as one */
const blob = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export function applyReadingWrite(db: Db, w: ReadingWrite): void {
  const now = new Date().toISOString();
  switch (w.kind) {
    case 'start':
      db.prepare(`INSERT OR IGNORE INTO readings (doc_id, model_id, status, queued_at, updated_at) VALUES (?, ?, 'reading', ?, ?)`).run(w.docId, w.modelId, now, now);
      db.prepare(`UPDATE readings SET status = 'reading', error = NULL, reader_pid = ?, reader_pid_start = ?, updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(w.pid, w.pidStart, now, w.docId, w.modelId);
      return;
    case 'total':
      db.prepare(`UPDATE readings SET tokens_total = ? WHERE doc_id = ? AND model_id = ?`).run(w.tokens, w.docId, w.modelId);
      return;
    case 'paused':
      db.prepare(`UPDATE readings SET status = 'paused', updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(now, w.docId, w.modelId);
      return;
    case 'dropTracesFrom':
      db.prepare(`DELETE FROM surprise_traces WHERE doc_id = ? AND model_id = ? AND start_token >= ?`).run(w.docId, w.modelId, w.token);
      return;
    case 'commit':
      db.transaction(() => {
        const p = w.piece;
        if (p) {
          db.prepare(`INSERT INTO surprise_traces (doc_id, model_id, piece, start_token, tokens, start_char, end_char, data, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
            w.docId, w.modelId, p.index, p.startToken, p.tokens, p.startChar, p.endChar, blob(p.data), blob(p.summary),
          );
        }
        if (w.memory) {
          db.prepare(`INSERT OR REPLACE INTO memory_states (doc_id, model_id, tokens, seconds, backend, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(w.docId, w.modelId, w.tokensDone, w.seconds, w.memory.backend, blob(w.memory.state), now);
          db.prepare(`UPDATE readings SET status = 'done', tokens_done = ?, seconds = ?, checkpoint = NULL, updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(w.tokensDone, w.seconds, now, w.docId, w.modelId);
        } else {
          db.prepare(`UPDATE readings SET tokens_done = ?, seconds = ?, checkpoint = ?, updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(w.tokensDone, w.seconds, w.checkpoint ? blob(w.checkpoint) : null, now, w.docId, w.modelId);
        }
      })();
      return;
  }
}

/** What a reading starts from: its row (null: none yet). */
export function readingRow(db: Db, docId: number, modelId: string): ReadingRow | null {
  return (db.prepare(`SELECT status, tokens_done AS tokensDone, tokens_total AS tokensTotal, seconds, checkpoint FROM readings WHERE doc_id = ? AND model_id = ?`).get(docId, modelId) as ReadingRow | undefined) ?? null;
}

/** The next piece number for a reading resumed at `token` (the pieces at or past it are dropped first). */
export function nextPieceIndex(db: Db, docId: number, modelId: string, token: number): number {
  return ((db.prepare(`SELECT max(piece) FROM surprise_traces WHERE doc_id = ? AND model_id = ? AND start_token < ?`).pluck().get(docId, modelId, token) as number | null) ?? -1) + 1;
}

/** The 'start' write for this process. */
export const startWrite = (docId: number, modelId: string): ReadingWrite => ({ kind: 'start', docId, modelId, pid: process.pid, pidStart: PROCESS_START });

// ---------------------------------------------------------------------------------------------
// The reading queue's own changes (core/reading/queue.ts): what waits, who reads, what a crash left.

/** Who reads a document now (status 'reading': the process and its start time, for liveness). */
export function readerOf(db: Db, docId: number, modelId: string): { status: string; pid: number | null; start: number | null } | null {
  return (db.prepare(`SELECT status, reader_pid AS pid, reader_pid_start AS start FROM readings WHERE doc_id = ? AND model_id = ?`).get(docId, modelId) as { status: string; pid: number | null; start: number | null } | undefined) ?? null;
}

/** Queue a reading: a new row, or one not done yet (its checkpoint kept, its error cleared). */
export function queueReading(db: Db, docId: number, modelId: string, exists: boolean): void {
  const now = new Date().toISOString();
  if (!exists) db.prepare(`INSERT INTO readings (doc_id, model_id, status, queued_at, updated_at) VALUES (?, ?, 'queued', ?, ?)`).run(docId, modelId, now, now);
  else db.prepare(`UPDATE readings SET status = 'queued', error = NULL, reader_pid = NULL, queued_at = ?, updated_at = ? WHERE doc_id = ? AND model_id = ?`).run(now, now, docId, modelId);
}

/** A queued reading waits for the user instead; false when it was not queued. */
export function pauseQueued(db: Db, docId: number): boolean {
  return db.prepare(`UPDATE readings SET status = 'paused', updated_at = ? WHERE doc_id = ? AND status = 'queued'`).run(new Date().toISOString(), docId).changes > 0;
}

/** Readings marked 'reading', with the process that claimed them. */
export function readingsInProgress(db: Db): Array<{ docId: number; pid: number | null; start: number | null }> {
  return db.prepare(`SELECT doc_id AS docId, reader_pid AS pid, reader_pid_start AS start FROM readings WHERE status = 'reading'`).all() as Array<{ docId: number; pid: number | null; start: number | null }>;
}

/** A reading its process left (a crash, a closed app) waits in the queue again, from its last checkpoint. */
export function requeueInterrupted(db: Db, docId: number): void {
  db.prepare(`UPDATE readings SET status = 'queued', reader_pid = NULL WHERE doc_id = ? AND status = 'reading'`).run(docId);
}

/** A reading stopped with the worker (a model change) waits in the queue for the next one. */
export function requeueStopped(db: Db, docId: number, modelId: string): void {
  db.prepare(`UPDATE readings SET status = 'queued', reader_pid = NULL WHERE doc_id = ? AND model_id = ? AND status IN ('paused', 'reading')`).run(docId, modelId);
}

export function queuedCount(db: Db): number {
  return db.prepare(`SELECT count(*) FROM readings WHERE status = 'queued'`).pluck().get() as number;
}

/** A reading that failed, with the error the UI shows. */
export function failReading(db: Db, docId: number, error: unknown): void {
  db.prepare(`UPDATE readings SET status = 'failed', reader_pid = NULL, error = ?, updated_at = ? WHERE doc_id = ? AND status = 'reading'`).run(JSON.stringify(error), new Date().toISOString(), docId);
}

/** The next queued reading for this model, oldest first. */
export function nextQueued(db: Db, modelId: string): { docId: number; modelId: string } | null {
  return (db.prepare(`SELECT doc_id AS docId, model_id AS modelId FROM readings WHERE status = 'queued' AND model_id = ? ORDER BY queued_at, doc_id LIMIT 1`).get(modelId) as { docId: number; modelId: string } | undefined) ?? null;
}

/** Take the next queued reading for this process, atomically: another process (the CLI beside the app) may be taking one too. */
export function claimNextQueued(db: Db, modelId: string): { docId: number; modelId: string } | null {
  return db
    .transaction(() => {
      const next = nextQueued(db, modelId);
      if (!next) return null;
      db.prepare(`UPDATE readings SET status = 'reading', reader_pid = ?, reader_pid_start = ?, updated_at = ? WHERE doc_id = ? AND model_id = ? AND status = 'queued'`).run(process.pid, PROCESS_START, new Date().toISOString(), next.docId, next.modelId);
      return next;
    })
    .immediate();
}

/** The reading's process let go of it; requeue: a pause the user took back (Resume pressed while pausing). */
export function releaseReading(db: Db, docId: number, modelId: string, requeue: boolean): void {
  db.prepare(`UPDATE readings SET reader_pid = NULL${requeue ? `, status = 'queued'` : ''} WHERE doc_id = ? AND model_id = ?${requeue ? ` AND status = 'paused'` : ''}`).run(docId, modelId);
}
