// The library's question history: every question asked, the books it was asked of and what was
// found (the passages, the sentences that answer, the model's answers), searchable (FTS5 over the questions) and deletable one by one or all at once.
import type { AnswerSentence, BookAnswer, Citation, HistoryEntry } from '../api/contract.js';
import type { Db } from './database.js';

/** Keep the model's answer with the question it answers. */
export function rememberAnswer(db: Db, id: number, answer: { merged: string | null; answers: BookAnswer[] }): void {
  db.prepare(`UPDATE questions SET answer = ? WHERE id = ?`).run(JSON.stringify(answer), id);
}

/** Keep the sentences that answer with the question (schema 7). */
export function rememberSentences(db: Db, id: number, sentences: AnswerSentence[]): void {
  db.prepare(`UPDATE questions SET sentences = ? WHERE id = ?`).run(JSON.stringify(sentences), id);
}

export function remember(db: Db, question: string, ids: number[] | undefined, citations: Citation[]): number {
  return Number(
    db.prepare(`INSERT INTO questions (question, doc_ids, citations, asked_at) VALUES (?, ?, ?, ?)`).run(question, ids ? JSON.stringify(ids) : null, JSON.stringify(citations), new Date().toISOString()).lastInsertRowid,
  );
}

interface Row {
  id: number;
  question: string;
  docIds: string | null;
  citations: string;
  answer: string | null;
  sentences: string | null;
  askedAt: string;
}

/** Newest first; with an FTS5 match (core/ask/retrieve.ts ftsQuery of the user's words), the questions that match it. */
export function history(db: Db, match: string | null, limit: number): HistoryEntry[] {
  const rows = (
    match
      ? db
          .prepare(`SELECT q.id, q.question, q.doc_ids AS docIds, q.citations, q.answer, q.sentences, q.asked_at AS askedAt FROM questions_fts f JOIN questions q ON q.id = f.rowid WHERE questions_fts MATCH ? ORDER BY q.id DESC LIMIT ?`)
          .all(match, limit)
      : db.prepare(`SELECT id, question, doc_ids AS docIds, citations, answer, sentences, asked_at AS askedAt FROM questions ORDER BY id DESC LIMIT ?`).all(limit)
  ) as Row[];
  return rows.map((r) => ({ id: r.id, question: r.question, docIds: r.docIds ? (JSON.parse(r.docIds) as number[]) : null, citations: JSON.parse(r.citations) as Citation[], answer: r.answer ? (JSON.parse(r.answer) as HistoryEntry['answer']) : null, sentences: r.sentences ? (JSON.parse(r.sentences) as AnswerSentence[]) : [], askedAt: r.askedAt }));
}

/** Forget one question, or all (id absent); returns how many. */
export function forget(db: Db, id?: number): number {
  return id === undefined ? db.prepare(`DELETE FROM questions`).run().changes : db.prepare(`DELETE FROM questions WHERE id = ?`).run(id).changes;
}
