// Answering across books: the cited passages are grouped by book (in the order of their best
// citation); each of the first few books answers with its own memory loaded and its passages in
// context (core/ask/answer-from-book.ts, in the model worker), streamed; the answers are then merged:
// books that agree are named together, books that differ are listed each with its answer.
import type { BookAnswer, Citation } from '../api/contract.js';
import type { ReadingQueue } from '../reading/queue.js';
import { focusContext, normalizeAnswer, words } from './prompt.js';

export const MAX_BOOKS_ANSWERING = 3;
const MAX_ANSWER_TOKENS = 48;

export async function answerAcrossBooks(reading: ReadingQueue, question: string, citations: Citation[], onText: (docId: number, text: string) => void, o: { memory: boolean; decoding: 'copy' | 'free' }): Promise<{ answers: BookAnswer[]; merged: string | null }> {
  const books: Array<{ docId: number; title: string; indexes: number[] }> = [];
  citations.forEach((c, i) => {
    const b = books.find((x) => x.docId === c.docId);
    if (b) b.indexes.push(i);
    else books.push({ docId: c.docId, title: c.title, indexes: [i] });
  });
  const answers: BookAnswer[] = [];
  // one book after another: the model worker answers one request at a time anyway
  for (const b of books.slice(0, MAX_BOOKS_ANSWERING)) {
    const passages = b.indexes.slice(0, 3).map((i) => citations[i]!.text);
    const r = await reading.answer({ docId: b.docId, question, context: focusContext(passages, question), maxTokens: MAX_ANSWER_TOKENS, useMemory: o.memory, decoding: o.decoding }, (t) => onText(b.docId, t));
    answers.push({ docId: b.docId, title: b.title, text: r.text, citations: b.indexes, supported: supportedBy(r.text, passages), usedMemory: r.usedMemory, decoding: o.decoding, firstTokenMs: r.firstTokenMs, ms: r.ms });
  }
  return { answers, merged: mergeAnswers(answers) };
}

/** Every content word of the answer occurs in the passages (an empty answer is not supported). */
export function supportedBy(answer: string, passages: string[]): boolean {
  const ws = words(answer);
  if (ws.length === 0) return /^\d+$/.test(answer.trim()) && passages.some((p) => p.includes(answer.trim()));
  const have = new Set(passages.flatMap(words));
  return ws.every((w) => have.has(w));
}

/** The answers together: supported ones first; books that agree are named together. */
export function mergeAnswers(answers: BookAnswer[]): string | null {
  const given = answers.filter((a) => a.text !== '');
  if (given.length === 0) return null;
  const groups = new Map<string, { text: string; titles: string[]; supported: boolean }>();
  for (const a of given) {
    const key = normalizeAnswer(a.text) || a.text;
    const g = groups.get(key);
    if (g) {
      g.titles.push(a.title);
      g.supported ||= a.supported;
    } else groups.set(key, { text: a.text, titles: [a.title], supported: a.supported });
  }
  const ordered = [...groups.values()].sort((x, y) => Number(y.supported) - Number(x.supported));
  if (ordered.length === 1) return ordered[0]!.text;
  return ordered.map((g) => `${g.text} (${g.titles.join(', ')})`).join('; ');
}
