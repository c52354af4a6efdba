// What the library knows about readings into memory: for the status command, the UI and the API.
// A row left 'reading' by a process that is gone (killed, crashed: it had no chance to change the
// row) is shown as 'interrupted' at once, judged by the reader's process id plus start time; the
// row itself changes when a reading resumes (ReadingQueue.resumeInterrupted, reading.start).
import type { ReadingBrief, ReadingState, ReadingStatus } from '../api/contract.js';
import type { Db } from './database.js';
import { isAlive } from '../process.js';

/** The state to show for a stored one: 'reading' by a process that is gone is 'interrupted'. */
export function shownState(status: ReadingState, pid: number | null, start: number | null): ReadingState {
  return status === 'reading' && (pid === null || !isAlive(pid, start)) ? 'interrupted' : status;
}

interface Row {
  docId: number;
  title: string;
  status: ReadingStatus['status'];
  tokensDone: number;
  tokensTotal: number | null;
  modelId: string;
  modelName: string;
  backend: string | null;
  trained: number;
  seconds: number;
  error: string | null;
  updatedAt: string;
  pid: number | null;
  pidStart: number | null;
}

/** the backend that computed a finished reading's memory (memory_states.backend), for a readings row r */
const STATE_BACKEND_SQL = `(SELECT s.backend FROM memory_states s WHERE s.doc_id = r.doc_id AND s.model_id = r.model_id)`;

/** Readings, newest first; optionally of one document and/or one model. */
export function listReadings(db: Db, filter: { docId?: number; modelId?: string } = {}): ReadingStatus[] {
  const rows = db
    .prepare(
      `SELECT r.doc_id AS docId, d.title, r.status, r.tokens_done AS tokensDone, r.tokens_total AS tokensTotal, r.model_id AS modelId,
              m.name AS modelName, ${STATE_BACKEND_SQL} AS backend, m.trained, r.seconds, r.error, r.updated_at AS updatedAt,
              r.reader_pid AS pid, r.reader_pid_start AS pidStart
       FROM readings r JOIN documents d ON d.id = r.doc_id JOIN models m ON m.id = r.model_id
       WHERE d.status = 'ready' AND (@docId IS NULL OR r.doc_id = @docId) AND (@modelId IS NULL OR r.model_id = @modelId)
       ORDER BY r.updated_at DESC, r.doc_id DESC`,
    )
    .all({ docId: filter.docId ?? null, modelId: filter.modelId ?? null }) as Row[];
  return rows.map((r) => ({
    docId: r.docId,
    title: r.title,
    status: shownState(r.status, r.pid, r.pidStart),
    tokensDone: r.tokensDone,
    tokensTotal: r.tokensTotal,
    modelId: r.modelId,
    modelName: r.modelName,
    backend: r.backend,
    modelTrained: r.trained === 1,
    seconds: r.seconds,
    tokensPerSecond: r.seconds > 0 ? r.tokensDone / r.seconds : null,
    error: r.error ? (JSON.parse(r.error) as ReadingStatus['error']) : null,
    updatedAt: r.updatedAt,
  }));
}

/** SQL for a document's latest reading as JSON (a column of the library list). */
export const LATEST_READING_SQL = `(SELECT json_object('status', r.status, 'tokensDone', r.tokens_done, 'tokensTotal', r.tokens_total, 'modelId', r.model_id, 'modelName', m.name, 'backend', ${STATE_BACKEND_SQL}, 'pid', r.reader_pid, 'pidStart', r.reader_pid_start)
   FROM readings r JOIN models m ON m.id = r.model_id WHERE r.doc_id = d.id ORDER BY r.updated_at DESC LIMIT 1)`;

export function parseReadingBrief(json: string | null): ReadingBrief | null {
  if (!json) return null;
  const { pid, pidStart, ...brief } = JSON.parse(json) as ReadingBrief & { pid: number | null; pidStart: number | null };
  return { ...brief, status: shownState(brief.status, pid, pidStart) };
}
