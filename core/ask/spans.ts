// Copy-constrained answering. A byte-level model this small does not copy a number or a word from
// far back in its context by itself: free generation scored 0% exact match on every harness task.
// So decoding is restricted to spans of the passages the model was given (as in constrained
// decoding over a prefix tree, e.g. GENRE): at each step only the bytes that continue some span may
// follow, the model's own logits choose among them, and its newline says where the span ends.
// The model still decides the answer; it can only say what the passages say.

/** Spans of 1..maxWords words within one sentence of the context, without edge punctuation, each once. */
export function answerSpans(context: string, maxWords = 4): string[] {
  const spans = new Set<string>();
  for (const sentence of context.split(/(?<=[.!?…])\s+|\n+/u)) {
    const tokens = sentence.split(/\s+/).filter(Boolean);
    for (let i = 0; i < tokens.length; i++) {
      for (let j = i; j < Math.min(tokens.length, i + maxWords); j++) {
        const span = tokens.slice(i, j + 1).join(' ').replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
        if (span) spans.add(span);
      }
    }
  }
  return [...spans];
}

/** A prefix tree of token sequences: which tokens may follow a prefix. */
export class PrefixTree {
  private readonly root = new Map<number, unknown>();

  constructor(sequences: Iterable<ArrayLike<number>>) {
    for (const seq of sequences) {
      let node = this.root;
      for (let i = 0; i < seq.length; i++) {
        let next = node.get(seq[i]!) as Map<number, unknown> | undefined;
        if (!next) node.set(seq[i]!, (next = new Map()));
        node = next;
      }
    }
  }

  /** The tokens that continue `prefix` along some sequence (empty: the prefix is complete, or not in the tree). */
  next(prefix: readonly number[]): number[] {
    let node: Map<number, unknown> | undefined = this.root;
    for (const t of prefix) {
      node = node.get(t) as Map<number, unknown> | undefined;
      if (!node) return [];
    }
    return [...node.keys()];
  }
}
