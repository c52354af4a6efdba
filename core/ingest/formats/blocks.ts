// Shared helpers for the document parsers: turn an HTML/XHTML DOM into paragraphs of plain text
// (LF line ends, a blank line between paragraphs) while keeping where each heading and each
// element id landed, and make synthetic locations for formats without pages.
import { parseHTML } from 'linkedom';
import type { Chapter, PageMark } from './types.js';

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

/** Accumulates paragraphs; offsets are UTF-16 positions in the final text. */
export class TextBuilder {
  private parts: string[] = [];
  private length = 0;

  /** Where the next paragraph will start. */
  get nextOffset(): number {
    return this.length === 0 ? 0 : this.length + 2;
  }

  get currentLength(): number {
    return this.length;
  }

  /** Adds a paragraph (trimmed, at most single line breaks inside); returns its start, or null when it was empty. */
  add(paragraph: string): number | null {
    const clean = paragraph
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .map((l) => l.replace(/[ \t\f\v\u00a0]+$/g, ''))
      .filter((l) => l.trim() !== '')
      .join('\n')
      .replace(/^\s+/, '');
    if (clean === '') return null;
    const start = this.nextOffset;
    if (this.length > 0) this.parts.push('\n\n');
    this.parts.push(clean);
    this.length = start + clean.length;
    return start;
  }

  toString(): string {
    return this.parts.join('');
  }
}

export interface WalkResult {
  headings: Chapter[];
  /** element id -> offset of the paragraph that holds it (or the next one). */
  anchors: Map<string, number>;
}

/** Walks an element and appends its text to the builder paragraph by paragraph. */
export function walkDom(root: DomNode, out: TextBuilder, options: { skip?: Set<string> } = {}): WalkResult {
  const headings: Chapter[] = [];
  const anchors = new Map<string, number>();
  let inline = '';
  let pre = 0;

  const flush = (): number | null => {
    const text = inline;
    inline = '';
    return out.add(text);
  };

  const visit = (node: DomNode): void => {
    if (node.nodeType === 3) {
      const data = node.data ?? '';
      inline += pre > 0 ? data : data.replace(/[ \t\n\r\f]+/g, ' ');
      return;
    }
    if (node.nodeType !== 1 && node.nodeType !== 9 && node.nodeType !== 11) return;
    const tag = (node.localName ?? '').toLowerCase();
    if (SKIP.has(tag) || options.skip?.has(tag)) return;
    const id = node.getAttribute?.('id') ?? null;
    if (id && !anchors.has(id)) anchors.set(id, out.nextOffset);
    if (tag === 'br') {
      inline += '\n';
      return;
    }
    const heading = /^h([1-6])$/.exec(tag);
    if (heading) {
      flush();
      for (const child of Array.from(node.childNodes)) visit(child);
      const title = inline.replace(/\s+/g, ' ').trim();
      inline = title;
      const start = flush();
      if (start !== null) headings.push({ title, level: Number(heading[1]), start });
      return;
    }
    const block = BLOCK.has(tag) || tag === 'pre';
    if (block) flush();
    if (tag === 'pre') pre++;
    for (const child of Array.from(node.childNodes)) visit(child);
    if (tag === 'pre') pre--;
    if (block) flush();
  };

  visit(root);
  flush();
  return { headings, anchors };
}

/** Parses HTML or XHTML (XML declaration, self-closed non-void tags) into a linkedom document. */
export function parseMarkup(markup: string): { document: DomNode & { querySelector(s: string): (DomNode & { querySelectorAll(s: string): ArrayLike<DomNode> }) | null; querySelectorAll(s: string): ArrayLike<DomNode>; body: DomNode | null; title?: string } } {
  const html = markup
    .replace(/^\uFEFF/, '')
    .replace(/<\?xml[^>]*\?>/i, '')
    .replace(/<([A-Za-z][\w:-]*)(\s[^<>]*?)?\s*\/>/g, (whole, tag: string, attrs: string | undefined) =>
      VOID.has(tag.toLowerCase()) ? whole : `<${tag}${attrs ?? ''}></${tag}>`,
    );
  // linkedom only builds <html><body> when the markup has them: wrap fragments.
  const wrapped = /<(html|body)[\s>]/i.test(html) ? html : `<html><head></head><body>${html}</body></html>`;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return parseHTML(wrapped) as any;
}

/** Synthetic locations: one at the start, then one every ~`every` characters at the next paragraph or word boundary. */
export function syntheticLocations(text: string, every = LOCATION_EVERY): PageMark[] {
  const pages: PageMark[] = [];
  if (text.length === 0) return pages;
  let start = 0;
  while (start < text.length) {
    pages.push({ start, number: pages.length + 1, label: null });
    const target = start + every;
    if (target >= text.length) break;
    // Prefer a paragraph start within the next 300 characters, else the next word start.
    const para = text.indexOf('\n\n', target - 1);
    let next: number;
    if (para !== -1 && para < target + 300) next = para + 2;
    else {
      const space = text.slice(target).search(/\s\S/);
      next = space === -1 ? text.length : target + space + 1;
    }
    if (next <= start || next >= text.length) break;
    start = next;
  }
  return pages;
}

export function collapse(s: string | null | undefined): string {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

/** The offset at or after `from` where `title` (whitespace-insensitive) appears as a paragraph start, else -1. */
export function findHeading(text: string, title: string, from: number, to = text.length): number {
  const words = collapse(title).split(' ').filter(Boolean);
  if (words.length === 0) return -1;
  const re = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+'), 'g');
  re.lastIndex = from;
  let m: RegExpExecArray | null;
  let first = -1;
  while ((m = re.exec(text)) && m.index < to) {
    if (first === -1) first = m.index;
    if (m.index === 0 || text[m.index - 1] === '\n') return m.index;
  }
  return first;
}
