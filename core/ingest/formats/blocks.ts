// Shared helpers for the document parsers: turn an HTML/XHTML DOM into paragraphs of plain text
// (LF line ends, a blank line between paragraphs) while keeping where each heading and each
// element id landed, and make synthetic locations for formats without pages.
import { parseHTML } from 'linkedom';
import { MAX_DOCUMENT_CHARS, textTooLong } from '../limits.js';
import type { PageMark, ParsedChapter } from './types.js';

/** The small part of the DOM the walker needs (linkedom's nodes satisfy it; tsconfig has no DOM lib). */
export interface DomNode {
  nodeType: number;
  localName?: string;
  data?: string;
  childNodes: ArrayLike<DomNode>;
  getAttribute?(name: string): string | null;
  textContent: string | null;
}

export const LOCATION_EVERY = 1800;

const BLOCK = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'caption', 'center', 'dd', 'details', 'dialog', 'dir', 'div', 'dl', 'dt',
  'fieldset', 'figcaption', 'figure', 'footer', 'form', 'header', 'hgroup', 'hr', 'html', 'li', 'main', 'menu', 'nav', 'ol', 'p',
  'section', 'summary', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul',
]);
const SKIP = new Set(['script', 'style', 'head', 'template', 'noscript', 'svg', 'math', 'iframe', 'object', 'button', 'select', 'input', 'textarea']);
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);

/** Accumulates paragraphs; offsets are UTF-16 positions in the final text, which may not grow past `maxChars`. */
export class TextBuilder {
  private parts: string[] = [];
  private length = 0;

  /** `name`: the document, for the error when its text passes `maxChars`. */
  constructor(
    private readonly name = 'The document',
    private readonly maxChars = MAX_DOCUMENT_CHARS,
  ) {}

  /** Where the next paragraph will start. */
  get nextOffset(): number {
    return this.length === 0 ? 0 : this.length + 2;
  }

  get currentLength(): number {
    return this.length;
  }

  /** Throws the text-size error when `pending` more characters would pass the limit. */
  ensureRoom(pending: number): void {
    if (this.nextOffset + pending > this.maxChars) throw textTooLong(this.name, this.maxChars);
  }

  /** Adds a paragraph (trimmed, at most single line breaks inside); returns its start, or null when it was empty. */
  add(paragraph: string): number | null {
    const clean = paragraph
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .map(trimEndSpaces)
      .filter((l) => l.trim() !== '')
      .join('\n')
      .trimStart();
    if (clean === '') return null;
    const start = this.nextOffset;
    if (start + clean.length > this.maxChars) throw textTooLong(this.name, this.maxChars);
    if (this.length > 0) this.parts.push('\n\n');
    this.parts.push(clean);
    this.length = start + clean.length;
    return start;
  }

  toString(): string {
    return this.parts.join('');
  }
}

const TRAILING = new Set([0x20, 0x09, 0x0c, 0x0b, 0xa0]);

/** The line without trailing spaces, tabs, form feeds and no-break spaces (a scan from the end: `/[ \t]+$/` is quadratic on long runs). */
function trimEndSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && TRAILING.has(line.charCodeAt(end - 1))) end--;
  return end === line.length ? line : line.slice(0, end);
}

export interface WalkResult {
  headings: ParsedChapter[];
  /** element id -> offset of the paragraph that holds it (or the next one). */
  anchors: Map<string, number>;
}

/** Walks an element and appends its text to the builder paragraph by paragraph (with a stack of its own, so any depth of nesting passes). */
export function walkDom(root: DomNode, out: TextBuilder, options: { skip?: Set<string> } = {}): WalkResult {
  const headings: ParsedChapter[] = [];
  const anchors = new Map<string, number>();
  let inline = '';
  let pre = 0;

  const flush = (): number | null => {
    const text = inline;
    inline = '';
    return out.add(text);
  };

  // What is left to do, last first: a node to visit, or the end of a heading or block element.
  type Task = { node: DomNode } | { endHeading: number } | { endBlock: boolean };
  const stack: Task[] = [{ node: root }];
  const pushChildren = (node: DomNode) => {
    const children = node.childNodes;
    for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i]! });
  };
  while (stack.length > 0) {
    const task = stack.pop()!;
    if ('endHeading' in task) {
      const title = inline.replace(/\s+/g, ' ').trim();
      inline = title;
      const start = flush();
      if (start !== null) headings.push({ title, level: task.endHeading, start });
      continue;
    }
    if ('endBlock' in task) {
      if (task.endBlock) pre--;
      flush();
      continue;
    }
    const node = task.node;
    if (node.nodeType === 3) {
      const data = node.data ?? '';
      inline += pre > 0 ? data : data.replace(/[ \t\n\r\f]+/g, ' ');
      out.ensureRoom(inline.length);
      continue;
    }
    if (node.nodeType !== 1 && node.nodeType !== 9 && node.nodeType !== 11) continue;
    const tag = (node.localName ?? '').toLowerCase();
    if (SKIP.has(tag) || options.skip?.has(tag)) continue;
    const id = node.getAttribute?.('id') ?? null;
    if (id && !anchors.has(id)) anchors.set(id, out.nextOffset);
    if (tag === 'br') {
      inline += '\n';
      continue;
    }
    const heading = HEADING.exec(tag);
    if (heading) {
      flush();
      stack.push({ endHeading: Number(heading[1]) });
      pushChildren(node);
      continue;
    }
    if (BLOCK.has(tag) || tag === 'pre') {
      flush();
      if (tag === 'pre') pre++;
      stack.push({ endBlock: tag === 'pre' });
    }
    pushChildren(node);
  }
  flush();
  return { headings, anchors };
}

const HEADING = /^h([1-6])$/;

/** How many elements the tree has and how deep they nest, counted up to `limit` elements (then it stops). */
export function domShape(root: DomNode, limit = Infinity): { elements: number; depth: number } {
  let elements = 0;
  let depth = 0;
  const stack: Array<[DomNode, number]> = [[root, 0]];
  while (stack.length > 0 && elements < limit) {
    const [node, d] = stack.pop()!;
    if (node.nodeType === 1) {
      elements++;
      if (d > depth) depth = d;
    }
    const children = node.childNodes;
    for (let i = 0; i < children.length; i++) if (children[i]!.nodeType === 1) stack.push([children[i]!, d + 1]);
  }
  return { elements, depth };
}

/** Parses HTML or XHTML (XML declaration, self-closed non-void tags) into a linkedom document. */
export function parseMarkup(markup: string): { document: DomNode & { querySelector(s: string): (DomNode & { querySelectorAll(s: string): ArrayLike<DomNode> }) | null; querySelectorAll(s: string): ArrayLike<DomNode>; body: DomNode | null; title?: string } } {
  const html = expandSelfClosing(stripXmlDeclaration(markup.replace(/^\uFEFF/, '')));
  // linkedom only builds <html><body> when the markup has them: wrap fragments.
  const wrapped = /<(html|body)[\s>]/i.test(html) ? html : `<html><head></head><body>${html}</body></html>`;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return parseHTML(wrapped) as any;
}

/** Removes the first `<?xml ...?>` (no '>' inside), in one pass: a regex for it retries from every "<?xml" to the end. */
export function stripXmlDeclaration(markup: string): string {
  const opening = /<\?xml/gi;
  let m: RegExpExecArray | null;
  while ((m = opening.exec(markup))) {
    const gt = markup.indexOf('>', m.index + 5);
    if (gt < 0) return markup; // no '>' anywhere after: no later "<?xml" can close either
    if (markup.charCodeAt(gt - 1) === 0x3f /* ? */ && gt - 1 >= m.index + 5) return markup.slice(0, m.index) + markup.slice(gt + 1);
    opening.lastIndex = gt + 1; // every "<?xml" before this '>' would end at it too
  }
  return markup;
}

/**
 * `<tag attrs/>` becomes `<tag attrs></tag>` unless the tag is void (XHTML's self-closed elements
 * mean nothing to an HTML parser). One linear scan: each '<' looks ahead only to the next '<' or
 * '>', and the scan resumes there. (The regex this replaces backtracked: "<a" and 100,000 spaces
 * took 28 s.)
 */
export function expandSelfClosing(markup: string): string {
  const out: string[] = [];
  let copied = 0;
  let i = markup.indexOf('<');
  while (i >= 0) {
    let j = i + 1;
    if (!isNameStart(markup.charCodeAt(j))) {
      i = markup.indexOf('<', j);
      continue;
    }
    j++;
    while (j < markup.length && isNameChar(markup.charCodeAt(j))) j++;
    const nameEnd = j;
    while (j < markup.length) {
      const c = markup.charCodeAt(j);
      if (c === 0x3c /* < */ || c === 0x3e /* > */) break;
      j++;
    }
    if (j >= markup.length) break;
    if (markup.charCodeAt(j) === 0x3c) {
      i = j; // an unclosed tag: start again at the next '<'
      continue;
    }
    // markup[j] is '>'
    if (markup.charCodeAt(j - 1) === 0x2f /* / */ && j - 1 >= nameEnd) {
      const tag = markup.slice(i + 1, nameEnd);
      const rest = markup.slice(nameEnd, j - 1);
      if (!VOID.has(tag.toLowerCase()) && (rest === '' || isSpace(rest.charCodeAt(0)))) {
        out.push(markup.slice(copied, i), `<${tag}${rest.trimEnd()}></${tag}>`);
        copied = j + 1;
      }
    }
    i = markup.indexOf('<', j + 1);
  }
  if (copied === 0) return markup;
  out.push(markup.slice(copied));
  return out.join('');
}

const isNameStart = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d;
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029 || (c >= 0x2000 && c <= 0x200a) || c === 0x1680 || c === 0x202f || c === 0x205f || c === 0x3000;

/** Synthetic locations: one at the start, then one every ~`every` characters at the next paragraph or word boundary (in one pass over the text). */
export function syntheticLocations(text: string, every = LOCATION_EVERY): PageMark[] {
  const pages: PageMark[] = [];
  if (text.length === 0) return pages;
  let start = 0;
  // The next paragraph break at or after some position, remembered: searching afresh from every
  // location would scan to the end each time in a text with few breaks.
  let para = -2;
  const wordStart = /\s\S/g;
  while (start < text.length) {
    pages.push({ start, number: pages.length + 1, label: null });
    const target = start + every;
    if (target >= text.length) break;
    // Prefer a paragraph start within the next 300 characters, else the next word start.
    if (para !== -1 && para < target - 1) para = text.indexOf('\n\n', target - 1);
    let next: number;
    if (para !== -1 && para < target + 300) next = para + 2;
    else {
      wordStart.lastIndex = target;
      const m = wordStart.exec(text);
      next = m === null ? text.length : m.index + 1;
    }
    if (next <= start || next >= text.length) break;
    start = next;
  }
  return pages;
}

export function collapse(s: string | null | undefined): string {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

/** The offset in [from, to) where `title` (whitespace-insensitive) appears as a paragraph start, else its first match there, else -1. */
export function findHeading(text: string, title: string, from: number, to = text.length): number {
  // A very long title is matched by its start (its pattern and window stay small).
  const words = collapse(title).slice(0, 300).split(' ').filter(Boolean);
  if (words.length === 0) return -1;
  const re = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+'), 'g');
  // Search only the window (and enough after it for a match that starts inside): a search to the
  // end of the text for every table-of-contents entry would be quadratic.
  const windowEnd = Math.min(text.length, to + 1500);
  const window = windowEnd === text.length ? text : text.slice(0, windowEnd);
  re.lastIndex = from;
  let m: RegExpExecArray | null;
  let first = -1;
  while ((m = re.exec(window)) && m.index < to) {
    if (first === -1) first = m.index;
    if (m.index === 0 || text[m.index - 1] === '\n') return m.index;
  }
  return first;
}
