// Turns a stream of normalized text into stored blocks, chapters and metadata (chapters and metadata
// only for text and Markdown), one line at a time, so a file of any size passes in constant memory.
import type { Chapter, DocumentFormat } from '../api/contract.js';
import { headingOfMarkdownLine, headingOfPlainLine, metaLine, setextLevel } from './headings.js';

export const BLOCK_TARGET = 16 * 1024; // characters per stored block (the reader renders per block)
const MAX_LINE_SCAN = 64 * 1024; // a longer line is stored in pieces and never taken for a heading

export interface Block {
  index: number;
  start: number; // offset of the block's first character (UTF-16 code units)
  line: number; // 1-based line of the block's first character
  text: string;
}

export class TextAssembler {
  readonly chapters: Chapter[] = [];
  title: string | null = null;
  author: string | null = null;
  chars = 0; // characters written to blocks so far
  hasText = false; // anything but white space seen
  line = 1; // current line number

  private pending = ''; // the incomplete line at the end of the last push
  private pendingIsContinuation = false; // pending began as the tail of an over-long line
  private buffer = '';
  private bufferStart = 0;
  private bufferLine = 1;
  private blockIndex = 0;
  private linesSeen = 0;
  // Markdown state
  private inFence: string | null = null;
  private frontMatter: 'maybe' | 'inside' | 'done' = 'maybe';
  private prev: { text: string; start: number; line: number; blankBefore: boolean } | null = null;
  private prevBlank = true;

  constructor(
    private readonly format: DocumentFormat,
    private readonly onBlock: (block: Block) => void,
  ) {}

  push(text: string): void {
    let pos = 0;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) {
        this.pending += text.slice(pos);
        if (this.pending.length > MAX_LINE_SCAN) {
          this.append(this.pending);
          this.pending = '';
          this.pendingIsContinuation = true;
        }
        return;
      }
      const lineText = this.pending + text.slice(pos, nl);
      const continuation = this.pendingIsContinuation;
      this.pending = '';
      this.pendingIsContinuation = false;
      this.completeLine(lineText, continuation);
      pos = nl + 1;
    }
  }

  end(): void {
    if (this.pending.length > 0 || this.pendingIsContinuation) {
      const lineText = this.pending;
      const continuation = this.pendingIsContinuation;
      this.pending = '';
      if (!continuation) this.inspectLine(lineText, this.chars);
      this.append(lineText);
    }
    this.flush(true);
  }

  private completeLine(lineText: string, continuation: boolean): void {
    if (!continuation) this.inspectLine(lineText, this.chars);
    this.append(lineText + '\n');
    this.line++;
  }

  private append(text: string): void {
    if (!this.hasText && /\S/.test(text)) this.hasText = true;
    this.buffer += text;
    this.chars += text.length;
    if (this.buffer.length >= BLOCK_TARGET) this.flush(false);
  }

  /** Emit the buffer as blocks; blocks end at a line end unless a single line is longer than a block. */
  private flush(final: boolean): void {
    while (this.buffer.length >= BLOCK_TARGET || (final && this.buffer.length > 0)) {
      let cut = this.buffer.length;
      if (cut > 2 * BLOCK_TARGET) {
        const nl = this.buffer.lastIndexOf('\n', 2 * BLOCK_TARGET);
        cut = nl >= BLOCK_TARGET / 2 ? nl + 1 : 2 * BLOCK_TARGET;
        const c = this.buffer.charCodeAt(cut - 1);
        if (c >= 0xd800 && c <= 0xdbff) cut--; // never split a surrogate pair
      }
      const text = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut);
      this.onBlock({ index: this.blockIndex++, start: this.bufferStart, line: this.bufferLine, text });
      this.bufferStart += text.length;
      this.bufferLine += countNewlines(text);
    }
  }

  private inspectLine(text: string, start: number): void {
    this.linesSeen++;
    const blank = text.trim().length === 0;
    if (this.format === 'markdown') this.inspectMarkdown(text, start, blank);
    else if (this.format === 'text') this.inspectPlain(text, start, blank);
    // other formats bring their chapters and metadata from their parser
    this.prevBlank = blank;
  }

  private inspectMarkdown(text: string, start: number, blank: boolean): void {
    if (this.frontMatter === 'maybe') {
      this.frontMatter = text.trim() === '---' ? 'inside' : 'done';
      if (this.frontMatter === 'inside') return;
    } else if (this.frontMatter === 'inside') {
      if (text.trim() === '---' || text.trim() === '...') this.frontMatter = 'done';
      else this.readMetaLine(text, true);
      return;
    }
    const fence = /^\s{0,3}(`{3,}|~{3,})/.exec(text);
    if (fence) {
      const marker = fence[1]!;
      if (this.inFence === null) this.inFence = marker[0]!;
      else if (marker[0] === this.inFence) this.inFence = null;
      this.prev = null;
      return;
    }
    if (this.inFence !== null) return;
    const atx = headingOfMarkdownLine(text);
    if (atx) {
      this.addChapter(atx.title, atx.level, start, this.line);
      this.prev = null;
      return;
    }
    const setext = setextLevel(text);
    if (setext && this.prev && this.prev.text.trim().length > 0 && this.prev.blankBefore) {
      this.addChapter(this.prev.text.trim(), setext, this.prev.start, this.prev.line);
      this.prev = null;
      return;
    }
    this.prev = blank ? null : { text, start, line: this.line, blankBefore: this.prevBlank };
  }

  private inspectPlain(text: string, start: number, blank: boolean): void {
    if (this.linesSeen <= 300) this.readMetaLine(text, false);
    if (blank || !this.prevBlank) return;
    const heading = headingOfPlainLine(text);
    if (heading) this.addChapter(heading.title, heading.level, start, this.line);
  }

  private readMetaLine(text: string, quotes: boolean): void {
    const m = metaLine(text, quotes);
    if (!m) return;
    if (m.key === 'title' && this.title === null) this.title = m.value.slice(0, 500);
    if (m.key === 'author' && this.author === null) this.author = m.value.slice(0, 500);
  }

  private addChapter(title: string, level: number, start: number, line: number): void {
    if (this.format === 'markdown' && level === 1 && this.title === null) this.title = title;
    this.chapters.push({ title: title.slice(0, 300), level, start, line });
  }
}

export function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
