// `titans-reader ask "question"`: first the sentence that answers, from each book that answers,
// with its citation (book, page or location, chapter, line, character offsets), its confidence and
// a short answer when the model is confident enough; then each book's model answer (written as it
// comes, with the book's memory loaded); then the passages, each cited with its place.
// --passages: passages only; --rerank: the model also scores the best passages with their book's
// memory loaded.
import type { ApiClient } from '../api/client.js';
import { answerSources } from '../api/contract.js';
import type { AnswerSentence, Chunk } from '../api/contract.js';
import type { Out } from './reading.js';

const where = (c: { docId: number; title: string; page: { number: number; label: string | null } | null; chapter: string | null; line: number; start: number; end: number }) => {
  const page = c.page ? (c.page.label ?? String(c.page.number)) : null;
  return [`#${c.docId} “${c.title}”`, page ? `page/location ${page}` : null, c.chapter ? `“${c.chapter}”` : null, `line ${c.line}`, `characters ${c.start}-${c.end}`].filter(Boolean).join(', ');
};
const pct = (p: number) => `${Math.round(100 * p)}%`;

/** The answering sentences: each book's (rank 0), the first with its short answer or the warning. */
export function printSentences(sentences: AnswerSentence[], out: Out): void {
  const answering = sentences.filter((s) => s.rank === 0);
  answering.forEach((s, i) => {
    if (i === 1) out(answering.length > 2 ? 'Other books answer too:' : 'Another book answers too:');
    out(`${i === 0 ? 'Answer' : '  '}: “${s.text}”`);
    out(`    — ${where(s)}, in passage [${s.citation + 1}]; ${pct(s.confidence)} sure it answers${s.modelScored ? " (text and the model's reading)" : ''}`);
    if (i === 0) out(s.span?.shown ? `Short answer: ${s.span.text} (${pct(s.span.confidence)} sure)` : 'No short answer: the passages below may hold the answer.');
  });
}

export async function ask(api: ApiClient, q: { question: string; ids: number[] | undefined; top: number; answer: boolean; rerank: boolean }, out: Out): Promise<number> {
  const { question, ids, top, answer, rerank } = q;
  let current: number | null = null;
  const live = process.stdout.isTTY;
  // the answer's pieces stream as the call's own chunks: shown as they come on a terminal
  const onChunk = (c: Chunk<'ask.answer'>) => {
    if (!live || c.kind !== 'token') return;
    if (current !== c.docId) process.stdout.write(`${current === null ? '' : '\n'}… `);
    current = c.docId;
    process.stdout.write(c.text);
  };
  const r = answer ? await api.call('ask.answer', { question, top, rerank, ...(ids ? { ids } : {}) }, { onChunk }) : { ...(await api.call('ask.retrieve', { question, top, rerank, ...(ids ? { ids } : {}) })), sentences: [], answers: [], merged: null, answerError: null };
  if (live && current !== null) process.stdout.write('\r\x1b[K\n');
  if (r.notFound) {
    out('Not found in these books: no passage shares a word with the question.');
    return 0;
  }
  if (answer) {
    printSentences('sentences' in r ? r.sentences : [], out);
    if ('answerError' in r && r.answerError) out(`The model could not write its own answer: ${r.answerError}`);
    else if (r.answers.length > 0) out("The model's own words (chosen among the passages'; often wrong with a model this small):");
    for (const a of r.answers) out(`  ${a.title}: ${a.text || '(nothing)'} — ${a.supported ? `${a.decoding === 'copy' ? 'taken from' : 'supported by'} [${answerSources(a, r.citations).map((i) => i + 1).join('], [')}]` : 'not found in its passages: check them'}${a.usedMemory ? '' : ' (book not read into memory yet)'}`);
    out('');
  }
  out(`The passages that best answer “${question}”${r.usedMemory ? " (text match fused with the books' memories)" : ' (text match; no book has been read into memory)'}${rerank ? ', reranked by the model' : ''}:`);
  r.citations.forEach((c, i) => {
    const snippet = c.text.replace(/\s+/g, ' ').trim();
    out(`\n[${i + 1}] ${where(c)}`);
    out(`    ${snippet.length > 300 ? snippet.slice(0, 299) + '…' : snippet}`);
  });
  return 0;
}
