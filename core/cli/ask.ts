// `titans-reader ask "question"`: the model's answer from each book that holds cited passages
// (written as it comes, with the book's memory loaded), then the passages, each cited with its
// place (book, page or location, chapter, line, character offsets). --passages: passages only;
// --rerank: the model also scores the best passages with their book's memory loaded.
import type { ApiClient } from '../api/client.js';
import { answerSources } from '../api/contract.js';
import type { Out } from './reading.js';

export async function ask(api: ApiClient, q: { question: string; ids: number[] | undefined; top: number; answer: boolean; rerank: boolean }, out: Out): Promise<number> {
  const { question, ids, top, answer, rerank } = q;
  const requestId = `cli-${process.pid}`;
  let current: number | null = null;
  const live = process.stdout.isTTY;
  const off = live
    ? api.on('ask.token', (e) => {
        if (e.requestId !== requestId) return;
        if (current !== e.docId) process.stdout.write(`${current === null ? '' : '\n'}… `);
        current = e.docId;
        process.stdout.write(e.text);
      })
    : () => {};
  const r = answer ? await api.call('ask.answer', { question, top, rerank, requestId, ...(ids ? { ids } : {}) }).finally(off) : { ...(await api.call('ask.retrieve', { question, top, rerank, ...(ids ? { ids } : {}) })), answers: [], merged: null, answerError: null };
  if (live && current !== null) process.stdout.write('\r\x1b[K\n');
  if (r.notFound) {
    out('Not found in these books: no passage shares a word with the question.');
    return 0;
  }
  if (answer) {
    const why = 'answerError' in r && r.answerError ? `the model could not answer: ${r.answerError}` : 'the model wrote none; see the passages';
    out(`Answer: ${r.merged ?? `(${why})`}`);
    for (const a of r.answers) out(`  ${a.title}: ${a.text || '(nothing)'} — ${a.supported ? `${a.decoding === 'copy' ? 'taken from' : 'supported by'} [${answerSources(a, r.citations).map((i) => i + 1).join('], [')}]` : 'not found in its passages: check them'}${a.usedMemory ? '' : ' (book not read into memory yet)'}`);
    out('');
  }
  out(`The passages that best answer “${question}”${r.usedMemory ? " (text match fused with the books' memories)" : ' (text match; no book has been read into memory)'}${rerank ? ', reranked by the model' : ''}:`);
  r.citations.forEach((c, i) => {
    const page = c.page ? (c.page.label ?? String(c.page.number)) : null;
    const place = [`#${c.docId} “${c.title}”`, page ? `page/location ${page}` : null, c.chapter ? `“${c.chapter}”` : null, `line ${c.line}`, `characters ${c.start}-${c.end}`].filter(Boolean).join(', ');
    const snippet = c.text.replace(/\s+/g, ' ').trim();
    out(`\n[${i + 1}] ${place}`);
    out(`    ${snippet.length > 300 ? snippet.slice(0, 299) + '…' : snippet}`);
  });
  return 0;
}
