// Answering from one book (runs in the model worker): the book's memory after reading it is
// loaded as the model's state, the focused context and the question are read on top of it, and
// the answer is generated greedily up to the end of the line, each piece sent as it comes.
// decoding 'copy' keeps the answer to spans of the context (core/ask/spans.ts); 'free' does not.
// The worker (core/model-worker.ts) runs it; core/reading/queue.ts sends the request.
import { generate } from '../../models/model/generate.js';
import { disposeModelState, type ModelState, type TitansModel } from '../../models/model/model.js';
import type { Tokenizer } from '../../models/tokenizer/index.js';
import { padPrompt } from '../../models/model/alignment.js';
import { answerPrompt } from './prompt.js';
import { answerSpans, PrefixTree } from './spans.js';
import type { BookMemories } from '../reading/book-memory.js';
import type { WorkerAnswer } from '../reading/protocol.js';

export async function answerFromBook(
  model: TitansModel,
  tokenizer: Tokenizer,
  memories: BookMemories,
  req: { docId: number; question: string; context: string; maxTokens: number; useMemory: boolean; decoding: 'copy' | 'free' },
  onText: (delta: string) => void,
): Promise<WorkerAnswer> {
  return memories.use(req.docId, (state) => answerWith(model, tokenizer, state, req, onText), req.useMemory);
}

async function answerWith(
  model: TitansModel,
  tokenizer: Tokenizer,
  state: ModelState | null,
  req: { question: string; context: string; maxTokens: number; decoding: 'copy' | 'free' },
  onText: (delta: string) => void,
): Promise<WorkerAnswer> {
  const t0 = performance.now();
  const newline = tokenizer.encode('\n').ids[0];
  const eos = tokenizer.special('<eos>');
  const prompt = padPrompt(model.config, tokenizer.encode(answerPrompt(req.context, req.question)).ids, state?.pos ?? 0, tokenizer.encode(' ').ids[0]!);
  const out: number[] = [];
  let sent = '';
  let firstTokenMs: number | null = null;
  // the answer is written as the model was trained to: " <answer>\n"
  const spans = req.decoding === 'copy' ? new PrefixTree(answerSpans(req.context).map((s) => tokenizer.encode(` ${s}\n`).ids).filter((ids) => ids.length <= req.maxTokens)) : null;
  const it = generate(model, prompt, { maxTokens: req.maxTokens, state, stop: [eos, ...(newline !== undefined ? [newline] : [])], ...(spans ? { allow: (done) => spans.next(done) } : {}) });
  try {
    // run the generator to its end (it stops after the newline): its final state is then ours to free
    for (let r = await it.next(); ; r = await it.next()) {
      if (r.done) {
        disposeModelState(r.value);
        break;
      }
      firstTokenMs ??= performance.now() - t0;
      if (r.value === newline || r.value === eos) continue;
      out.push(r.value);
      const text = tokenizer.decode(out);
      // a byte-level model may stop inside a character: send only what decodes whole
      if (!text.endsWith('\uFFFD') && text.length > sent.length) {
        onText(text.slice(sent.length));
        sent = text;
      }
    }
  } finally {
    await it.return(null); // after an error: the generator frees what it holds
  }
  // control characters and broken bytes (an untrained or confused model) are not part of an answer
  const text = tokenizer.decode(out).replace(/[\u0000-\u0008\u000B-\u001F\u007F\uFFFD]/gu, '').trim();
  return { text, usedMemory: state !== null, firstTokenMs, ms: performance.now() - t0 };
}
