// How a question is put to the model: "Question: ...", then the passages that may answer it, cut to
// the sentences that share the most words with the question (a byte-level model reads ~2,000
// tokens/s on this CPU, so a short context answers fast), then "Answer:", exactly as the model is
// trained on its tasks (core/training/base-corpus.ts, answer-tuning.ts). The question comes first
// because a MAC model attends only within its 64-token segment: what the answer is copied from
// must sit right before "Answer:", and the context was chosen by the question anyway.
// Also the exact-match scoring of answers.

/** The prompt a model answers from (also how the training tasks are written). */
export function answerPrompt(text: string, question: string): string {
  return `Question: ${question}\n${text}\nAnswer:`;
}

const STOP = new Set('a an the is are was were be been of in on at to for from by with and or not no what which who whom whose where when why how does did do is it its this that these those there here mentioned provided text'.split(' '));

export function words(s: string): string[] {
  return s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 1 && !STOP.has(w));
}

/** Sentences of the passages (in their order) that share the most words with the question, up to
 * `maxChars`: those sharing at least half as many as the best one (all, when none shares any). */
export function focusContext(passages: string[], question: string, maxChars = 600): string {
  const q = new Set(words(question));
  const sentences = passages.flatMap((p, pi) =>
    p
      .replace(/\s+/g, ' ')
      .split(/(?<=[.!?…])\s+(?=\S)/u)
      .map((text, si) => ({ text: text.trim(), order: pi * 10_000 + si, score: words(text).filter((w) => q.has(w)).length })),
  );
  const top = Math.max(0, ...sentences.map((s) => s.score));
  const best = sentences.filter((s) => s.text && s.score >= top / 2).sort((a, b) => b.score - a.score || a.order - b.order);
  const kept: typeof best = [];
  let used = 0;
  for (const s of best) {
    if (used + s.text.length > maxChars && kept.length > 0) continue;
    kept.push(s);
    used += s.text.length + 1;
    if (used >= maxChars) break;
  }
  return kept
    .sort((a, b) => a.order - b.order)
    .map((s) => s.text)
    .join(' ')
    .slice(0, Math.max(maxChars, 1));
}

/** The answer's first word, without punctuation, lower-cased: what exact match compares. */
export function normalizeAnswer(s: string): string {
  return (s.trim().split(/\s+/)[0] ?? '').replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '').toLowerCase();
}

export function exactMatch(answer: string, expected: string): boolean {
  return normalizeAnswer(answer) !== '' && normalizeAnswer(answer) === normalizeAnswer(expected);
}
