// `titans-reader ask "question"`: the passages that answer it, each cited with its place (book,
// page or location, chapter, line, character offsets) and how it ranked.
import type { ApiClient } from '../api/client.js';
import type { Out } from './reading.js';

export async function ask(api: ApiClient, question: string, ids: number[] | undefined, top: number, out: Out): Promise<number> {
  const r = await api.call('ask.retrieve', { question, top, ...(ids ? { ids } : {}) });
  if (r.notFound) {
    out('Not found in these books: no passage shares a word with the question.');
    return 0;
  }
  out(`The passages that best answer “${question}”${r.usedMemory ? " (text match fused with the books' memories)" : ' (text match; no book has been read into memory)'}:`);
  r.citations.forEach((c, i) => {
    const page = c.page ? (c.page.label ?? String(c.page.number)) : null;
    const place = [`#${c.docId} “${c.title}”`, page ? `page/location ${page}` : null, c.chapter ? `“${c.chapter}”` : null, `line ${c.line}`, `characters ${c.start}-${c.end}`].filter(Boolean).join(', ');
    const snippet = c.text.replace(/\s+/g, ' ').trim();
    out(`\n[${i + 1}] ${place}`);
    out(`    ${snippet.length > 300 ? snippet.slice(0, 299) + '…' : snippet}`);
  });
  return 0;
}
