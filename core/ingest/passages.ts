// Splits a document's text into passages for full-text search (FTS5) and citations: a passage is a
// run of whole paragraphs of about PASSAGE_TARGET characters, cut inside a paragraph only when one
// paragraph alone is too long, and never across a page or chapter start (so a citation's page and
// chapter are the passage's).
// Text arrives in pieces, so any size passes in constant memory.

export const PASSAGE_TARGET = 800; // characters; a passage closes at the first paragraph end past this
export const PASSAGE_MAX = 2000; // a paragraph longer than this is cut at a sentence or word end

export interface Passage {
  start: number; // UTF-16 offset of the first character
  text: string; // end = start + text.length
}

export class PassageSplitter {
  private buffer = '';
  private bufferStart = 0;
  private nextBreak = 0;

  private readonly breaks: number[] = [];

  /** @param breaks ascending offsets (page and chapter starts) that always begin a new passage */
  constructor(
    private readonly onPassage: (p: Passage) => void,
    breaks: number[] = [],
  ) {
    this.addBreaks(breaks);
  }

  /** More breaks, found as the text streams in (ascending; any not past the last one are ignored). */
  addBreaks(more: number[]): void {
    for (const b of more) if (b > (this.breaks.at(-1) ?? 0)) this.breaks.push(b);
  }

  push(text: string): void {
    this.buffer += text;
    for (;;) {
      while (this.nextBreak < this.breaks.length && this.breaks[this.nextBreak]! <= this.bufferStart) this.nextBreak++;
      const brk = this.breaks[this.nextBreak];
      if (brk === undefined || brk > this.bufferStart + this.buffer.length) break;
      this.splitBefore(brk - this.bufferStart);
      this.emit(this.buffer.length > 0 ? brk - this.bufferStart : 0);
    }
    this.splitBefore(this.buffer.length);
  }

  /** Emit passages while the first `limit` characters hold enough for one. */
  private splitBefore(limit: number): void {
    while (limit >= PASSAGE_TARGET) {
      const cut = this.cutPoint(limit);
      if (cut === null) return; // wait for the paragraph to end
      this.emit(cut);
      limit -= cut;
    }
  }

  end(): void {
    if (this.buffer.length > 0) this.emit(this.buffer.length);
  }

  /** Where to end the next passage: after the first paragraph break past the target, else a sentence or word end before the maximum. */
  private cutPoint(limit: number): number | null {
    const para = this.buffer.indexOf('\n\n', PASSAGE_TARGET);
    if (para >= 0 && para + 2 <= Math.min(PASSAGE_MAX, limit)) return para + 2;
    // Decide only once PASSAGE_MAX characters are known, so the cut never depends on how the text arrived.
    if (limit < PASSAGE_MAX) return null;
    const early = this.buffer.lastIndexOf('\n\n', PASSAGE_TARGET);
    if (early >= PASSAGE_TARGET / 4) return early + 2;
    const window = this.buffer.slice(0, PASSAGE_MAX);
    const sentence = Math.max(window.lastIndexOf('. '), window.lastIndexOf('! '), window.lastIndexOf('? '), window.lastIndexOf('\n'));
    if (sentence >= PASSAGE_TARGET / 2) return sentence + 1;
    const space = window.lastIndexOf(' ');
    if (space >= PASSAGE_TARGET / 2) return space + 1;
    let cut = PASSAGE_MAX;
    const c = this.buffer.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut--; // never split a surrogate pair
    return cut;
  }

  private emit(cut: number): void {
    if (cut <= 0) return;
    const text = this.buffer.slice(0, cut);
    this.buffer = this.buffer.slice(cut);
    if (/\S/.test(text)) this.onPassage({ start: this.bufferStart, text });
    this.bufferStart += cut;
  }
}
