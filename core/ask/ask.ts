// Asking the library a question (ask.retrieve, ask.answer): the passages that answer it, kept in
// the history; then the sentences that answer in each book that holds them, and each of those
// books' model answers, streamed as chunks of the call. Without a usable model the passages and
// sentences still answer.
import type { AnswerSentence, BookAnswer, Chunk, ParsedParams, Result } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { hasMemories } from '../library/memories.js';
import type { ReadingQueue } from '../reading/queue.js';
import { answerAcrossBooks, MAX_BOOKS_ANSWERING } from './answer.js';
import { answerSentences } from './answer-sentence.js';
import { remember, rememberAnswer, rememberSentences } from '../library/questions.js';
import { focusContext } from './prompt.js';
import { familiarityFrom, fuseModelScores, RERANK_CANDIDATES, retrieve } from './retrieve.js';

export interface AskDeps {
  db: Db;
  reading: ReadingQueue;
}

/** The passages for a question: BM25, with the books' memories ranking the books; without a
 * usable model, BM25 alone. rerank: the model also scores the best candidates. */
export async function findPassages(deps: Pick<AskDeps, 'db' | 'reading'>, question: string, ids: number[] | undefined, top: number, memory: boolean, rerank: boolean) {
  const { db, reading } = deps;
  const rows = memory && hasMemories(db) ? await reading.recall(question, ids, 0).then((r) => r.rows, () => []) : [];
  const r = retrieve(db, question, { top: rerank ? Math.max(top, RERANK_CANDIDATES) : top, familiarity: familiarityFrom(rows), ...(ids ? { ids } : {}) });
  if (rerank && r.citations.length > 1) {
    const passages = r.citations.slice(0, RERANK_CANDIDATES).map((c) => ({ docId: c.docId, text: focusContext([c.text], question, 300) }));
    // without a usable model the text match and familiarity ranking stands
    const scores = await reading.scorePassages({ question, passages, useMemory: memory }).catch(() => null);
    if (scores) r.citations = fuseModelScores(r.citations, scores);
  }
  return { ...r, citations: r.citations.slice(0, top) };
}

/** ask.retrieve: the passages, remembered in the history. */
export async function retrieveAnswers(deps: Pick<AskDeps, 'db' | 'reading'>, p: ParsedParams<'ask.retrieve'>): Promise<Result<'ask.retrieve'>> {
  const r = await findPassages(deps, p.question, p.ids, p.top, p.memory, p.rerank);
  return { ...r, notFound: r.citations.length === 0, historyId: remember(deps.db, p.question, p.ids, r.citations) };
}

/** ask.answer: the passages, the sentences that answer, then the model's answers, each step
 * remembered and sent to `emit` as it is known (the call's stream: found, sentences, tokens). */
export async function answerQuestion(deps: AskDeps, p: ParsedParams<'ask.answer'>, emit: (chunk: Chunk<'ask.answer'>) => void = () => {}): Promise<Result<'ask.answer'>> {
  const { db, reading } = deps;
  const { question, ids, memory, ablation } = p;
  const r = await findPassages(deps, question, ids, p.top, memory, p.rerank);
  const historyId = remember(db, question, ids, r.citations);
  emit({ kind: 'found', citations: r.citations, usedMemory: r.usedMemory });
  let answered: { answers: BookAnswer[]; merged: string | null } = { answers: [], merged: null };
  let answerError: string | null = null;
  let sentences: AnswerSentence[] = [];
  if (r.citations.length > 0) {
    sentences = await answerSentences(db, question, r.citations, { maxBooks: MAX_BOOKS_ANSWERING, memory, ...(ablation ? { ablation } : {}) });
    rememberSentences(db, historyId, sentences);
    emit({ kind: 'sentences', sentences });
  }
  if (r.citations.length > 0 && p.modelAnswer) {
    try {
      answered = await answerAcrossBooks(reading, question, r.citations, (docId, text) => emit({ kind: 'token', docId, text }), { memory, decoding: p.decoding });
      rememberAnswer(db, historyId, answered);
    } catch (e) {
      answerError = ApiError.from(e).message; // no usable model: the passages still answer
    }
  }
  return { ...r, notFound: r.citations.length === 0, historyId, sentences, ...answered, answerError };
}
