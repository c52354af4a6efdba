// HTML pages: Readability (on linkedom) picks the main content, not menus and footers;
// h1-h6 become chapters, <title> and the author meta tag the metadata. Readability is slower than
// linear in the depth and size of the page (elements nested 8,000 deep overflow its stack after
// seconds), so a page past READABILITY_MAX_* is read whole, without its menus, instead.
import { Readability } from '@mozilla/readability';
import { collapse, domShape, parseMarkup, syntheticLocations, TextBuilder, walkDom, type DomNode } from './blocks.js';
import type { ParsedChapter, ParsedDocument } from './types.js';

const BOILERPLATE = new Set(['nav', 'header', 'footer', 'aside', 'menu', 'form']);
export const READABILITY_MAX_ELEMENTS = 40_000;
export const READABILITY_MAX_DEPTH = 400;

export function parseHtml(markup: string, name = 'The page', maxChars?: number): ParsedDocument {
  const { document } = parseMarkup(markup);
  const titleTag = collapse(document.querySelector('title')?.textContent) || null;
  const metaAuthor =
    collapse(
      document.querySelector('meta[name="author" i]')?.getAttribute?.('content') ??
        document.querySelector('meta[property="article:author"]')?.getAttribute?.('content'),
    ) || null;

  let article: { content?: string | null; byline?: string | null; title?: string | null } | null = null;
  const shape = domShape(document, READABILITY_MAX_ELEMENTS + 1);
  if (shape.elements <= READABILITY_MAX_ELEMENTS && shape.depth <= READABILITY_MAX_DEPTH) {
    try {
      // Readability mutates the document it reads: give it its own copy.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      article = new Readability(parseMarkup(markup).document as any, { charThreshold: 200 }).parse();
    } catch {
      article = null;
    }
  }

  let out = new TextBuilder(name, maxChars);
  let headings: ParsedChapter[] = [];
  if (article?.content) {
    const { document: content } = parseMarkup(`<html><body>${article.content}</body></html>`);
    // Readability drops the h1 that repeats the page title; put the title back as the first heading.
    const firstHeading = content.querySelector('h1');
    const title = collapse(article.title) || titleTag;
    const body = content.body ?? content;
    const walked = walkDom(body, new TextBuilder(name, maxChars));
    const missingTitle = title && !firstHeading && !(walked.headings[0] && walked.headings[0].title === title);
    headings = [];
    if (missingTitle && title) {
      const start = out.add(title);
      if (start !== null) headings.push({ title, level: 1, start });
    }
    for (const h of walkDom(body, out).headings) headings.push(h);
  }
  let text = out.toString();
  if (text.trim() === '') {
    // Readability found no article (a short page or a fragment): take the body without its menus.
    out = new TextBuilder(name, maxChars);
    const body: DomNode = document.body ?? document;
    headings = walkDom(body, out, { skip: BOILERPLATE }).headings;
    text = out.toString();
  }
  return {
    format: 'html',
    title: titleTag ?? (collapse(article?.title) || null),
    author: metaAuthor ?? (collapse(article?.byline) || null),
    text,
    chapters: headings,
    pages: syntheticLocations(text),
  };
}
