// PDF documents with pdfjs-dist (legacy build, runs in Node): text page by page with lines and
// paragraphs rebuilt from item positions, page labels, the outline as chapters, and metadata.
// A PDF without a text layer (a scan) is refused rather than imported empty.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiError } from '../../api/errors.js';
import { collapse, findHeading, TextBuilder } from './blocks.js';
import type { PageMark, ParsedChapter, ParsedDocument } from './types.js';

interface Item {
  str: string;
  transform: number[];
  width: number;
  height: number;
  hasEOL: boolean;
}
interface OutlineNode {
  title: string;
  dest: string | unknown[] | null;
  items: OutlineNode[];
}

const require = createRequire(import.meta.url);
const pdfjsRoot = path.dirname(require.resolve('pdfjs-dist/package.json'));
const standardFontDataUrl = path.join(pdfjsRoot, 'standard_fonts') + path.sep;

export async function parsePdf(bytes: Buffer, file: string, opts: { maxChars?: number } = {}): Promise<ParsedDocument> {
  const name = path.basename(file);
  const pdfjs = await import(pathToFileURL(path.join(pdfjsRoot, 'legacy/build/pdf.mjs')).href);
  // pdfjs transfers (detaches) the buffer it is given: hand it a copy.
  const task = pdfjs.getDocument({
    data: new Uint8Array(bytes),
    standardFontDataUrl,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let doc: any;
  try {
    doc = await task.promise;
  } catch (e) {
    throw openError(e, name);
  }
  try {
    const out = new TextBuilder(name, opts.maxChars);
    const pages: PageMark[] = [];
    const labels: string[] | null = await doc.getPageLabels().catch(() => null);
    for (let i = 1; i <= doc.numPages; i++) {
      let items: Item[];
      try {
        const page = await doc.getPage(i);
        const content = await page.getTextContent();
        items = (content.items as Array<Partial<Item>>).filter((it): it is Item => typeof it.str === 'string' && Array.isArray(it.transform));
        page.cleanup();
      } catch (e) {
        if (e instanceof ApiError) throw e;
        throw new ApiError('unreadable', `${name} is damaged: page ${i} of ${doc.numPages} cannot be read (${e instanceof Error ? e.message : String(e)}).`, 'Download or export the PDF again.');
      }
      let pageChars = 0;
      for (const it of items) pageChars += it.str.length;
      out.ensureRoom(pageChars);
      const start = out.nextOffset;
      for (const paragraph of pageParagraphs(items)) out.add(paragraph);
      pages.push({ start, number: i, label: labels?.[i - 1] ?? null });
    }
    const text = out.toString();
    if (text.trim() === '') {
      throw new ApiError('unsupported_format', `${name} has no text layer: its ${doc.numPages === 1 ? 'page is an image' : `${doc.numPages} pages are images`} (a scan or photo), so there is no text to read.`, 'Run it through OCR (for example OCRmyPDF) to add a text layer, then import the result.');
    }
    for (const p of pages) p.start = Math.min(p.start, text.length);

    const chapters: ParsedChapter[] = [];
    const outline: OutlineNode[] | null = await doc.getOutline().catch(() => null);
    const visit = async (nodes: OutlineNode[], level: number) => {
      for (const node of nodes) {
        const pageIndex = await destinationPage(doc, node.dest);
        const title = collapse(node.title);
        if (pageIndex !== null && pages[pageIndex] && title) {
          const from = pages[pageIndex]!.start;
          const to = pages[pageIndex + 1]?.start ?? text.length;
          const at = findHeading(text, title, from, to);
          chapters.push({ title, level, start: at >= 0 && at < to ? at : from });
        }
        await visit(node.items ?? [], level + 1);
      }
    };
    await visit(outline ?? [], 1);

    const meta = await doc.getMetadata().catch(() => null);
    const info = (meta?.info ?? {}) as Record<string, unknown>;
    const xmp = meta?.metadata as { get(name: string): unknown } | null | undefined;
    const str = (v: unknown) => (typeof v === 'string' ? collapse(v) || null : null);
    return {
      format: 'pdf',
      title: str(info['Title']) ?? str(xmp?.get('dc:title')),
      author: str(info['Author']) ?? str(xmp?.get('dc:creator')),
      text,
      chapters,
      pages,
    };
  } finally {
    await doc.destroy().catch(() => undefined);
  }
}

function openError(e: unknown, name: string): ApiError {
  const err = e as { name?: string; message?: string; code?: number };
  if (err?.name === 'PasswordException') {
    return new ApiError('unreadable', `${name} is protected by a password, so its text cannot be read.`, 'Open it in a PDF viewer with the password and save or print an unprotected copy, then import that.');
  }
  if (err?.name === 'InvalidPDFException') {
    return new ApiError('unreadable', `${name} is not a valid PDF: ${withoutFinalDots(err.message ?? 'its structure is damaged').toLowerCase()}.`, 'The file may be damaged or incomplete; download or export it again.');
  }
  return new ApiError('unreadable', `${name} could not be opened as a PDF (${err?.message ?? String(e)}).`, 'The file may be damaged or incomplete; download or export it again.');
}

function withoutFinalDots(s: string): string {
  let end = s.length;
  while (end > 0 && s[end - 1] === '.') end--;
  return s.slice(0, end);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function destinationPage(doc: any, dest: OutlineNode['dest']): Promise<number | null> {
  try {
    const explicit = typeof dest === 'string' ? await doc.getDestination(dest) : dest;
    if (!Array.isArray(explicit) || explicit.length === 0) return null;
    const ref = explicit[0];
    if (typeof ref === 'number') return ref;
    if (ref && typeof ref === 'object') return await doc.getPageIndex(ref);
    return null;
  } catch {
    return null;
  }
}

/** Rebuilds lines (same baseline) and paragraphs (a taller gap between lines) from positioned text items. */
export function pageParagraphs(items: Item[]): string[] {
  const lines: Array<{ text: string; y: number; size: number }> = [];
  // The line so far, in pieces (a string grown with += is a rope that every look at its end would flatten again).
  const cur: string[] = [];
  let curEndsInSpace = false;
  let curY: number | null = null;
  let curSize = 0;
  let lastEnd: number | null = null;
  const endLine = () => {
    const text = cur.join('').trim();
    if (curY !== null && text !== '') lines.push({ text, y: curY, size: curSize });
    cur.length = 0;
    curEndsInSpace = false;
    curY = null;
    curSize = 0;
    lastEnd = null;
  };
  for (const it of items) {
    const x = it.transform[4] ?? 0;
    const y = it.transform[5] ?? 0;
    const size = it.height || Math.abs(it.transform[3] ?? 0) || 10;
    if (curY !== null && Math.abs(y - curY) > Math.max(1, size * 0.5)) endLine();
    if (it.str !== '') {
      if (cur.length > 0 && lastEnd !== null && x > lastEnd + size * 0.15 && !curEndsInSpace && !/^\s/.test(it.str)) cur.push(' ');
      cur.push(it.str);
      curEndsInSpace = /\s/.test(it.str[it.str.length - 1]!);
      if (curY === null) curY = y;
      curSize = Math.max(curSize, size);
      lastEnd = x + it.width;
    }
    if (it.hasEOL) endLine();
  }
  endLine();
  const paragraphs: string[] = [];
  let para: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const prev = lines[i - 1];
    if (prev && para.length > 0) {
      const gap = prev.y - line.y;
      const lineHeight = Math.max(prev.size, line.size);
      // A new paragraph: a gap of about two lines, a jump upwards (new column), or a change of font size (a heading).
      if (gap > lineHeight * 1.75 || gap < 0 || Math.abs(prev.size - line.size) > 1.5) {
        paragraphs.push(para.join('\n'));
        para = [];
      }
    }
    para.push(line.text);
  }
  if (para.length > 0) paragraphs.push(para.join('\n'));
  return paragraphs;
}
