// EPUB 2 and 3: container.xml -> OPF -> spine order; chapters from nav.xhtml (EPUB 3) or
// toc.ncx (EPUB 2) mapped to offsets; the book's page-list when it has one; dc:title/dc:creator.
// The archive is checked before anything is inflated (see zip.ts), and every path the book
// refers to must stay inside it. A file the spine lists more than once is read once, at its
// first place (a spine that repeats a 4 MB chapter 20,000 times is a 4 MB book, not 80 GB).
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { ApiError } from '../../api/errors.js';
import { collapse, findHeading, parseMarkup, syntheticLocations, TextBuilder, walkDom, type DomNode } from './blocks.js';
import type { PageMark, ParsedChapter, ParsedDocument } from './types.js';
import { ZipArchive, type ZipLimits } from './zip.js';

type Xml = Record<string, unknown>;

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  isArray: (name) => ['rootfile', 'item', 'itemref', 'navPoint', 'pageTarget', 'title', 'creator', 'meta'].includes(name),
});

export async function parseEpub(bytes: Buffer, file: string, opts: { limits?: ZipLimits; maxChars?: number } = {}): Promise<ParsedDocument> {
  const name = path.basename(file);
  const bad = (why: string) => new ApiError('unreadable', `${name} is not a readable EPUB: ${why}.`, 'The book may be damaged; download or export it again.');
  const zip = ZipArchive.open(bytes, name, 'EPUB book', opts.limits);

  const container = zip.text('META-INF/container.xml');
  if (container === null) throw bad('META-INF/container.xml is missing');
  const rootfiles = asArray((get(parseXml(container, name, 'META-INF/container.xml'), 'container', 'rootfiles') as Xml | undefined)?.['rootfile']);
  const opfPath = rootfiles.map((r) => (r as Xml)['@_full-path']).find((p): p is string => typeof p === 'string');
  if (!opfPath) throw bad('container.xml names no package (OPF) file');
  const opfFile = resolveHref(name, '', opfPath);
  const opfText = zip.text(opfFile);
  if (opfText === null) throw bad(`the package file "${opfFile}" is missing`);
  const pkg = (parseXml(opfText, name, opfFile)['package'] ?? {}) as Xml;
  const opfDir = path.posix.dirname(opfFile) === '.' ? '' : path.posix.dirname(opfFile);

  // Metadata.
  const metadata = (pkg['metadata'] ?? {}) as Xml;
  const title = asArray(metadata['title']).map(textOf).find(Boolean) ?? null;
  const authors = asArray(metadata['creator']).map(textOf).filter(Boolean);
  const author = authors.length > 0 ? authors.join(', ') : null;

  // Manifest and spine.
  const manifest = new Map<string, { href: string; type: string; properties: string }>();
  const remote = new Set<string>();
  for (const item of asArray((pkg['manifest'] as Xml | undefined)?.['item']) as Xml[]) {
    const id = item['@_id'];
    const href = item['@_href'];
    if (typeof id !== 'string' || typeof href !== 'string') continue;
    // EPUB 3 allows remote resources (fonts, audio); they are never read, and never in our text.
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) {
      remote.add(id);
      continue;
    }
    manifest.set(id, { href: resolveHref(name, opfDir, href), type: String(item['@_media-type'] ?? ''), properties: String(item['@_properties'] ?? '') });
  }
  const spineNode = (pkg['spine'] ?? {}) as Xml;
  const spine = (asArray(spineNode['itemref']) as Xml[]).map((r) => String(r['@_idref'] ?? ''));
  if (spine.length === 0) throw bad('its spine (the reading order) is empty');

  const out = new TextBuilder(name, opts.maxChars);
  const fileStart = new Map<string, number>();
  const anchors = new Map<string, number>();
  const headings: ParsedChapter[] = [];
  for (const idref of spine) {
    const item = manifest.get(idref);
    if (!item && remote.has(idref)) throw bad(`its reading order includes "${idref}", a remote resource outside the book`);
    if (!item) throw bad(`the reading order names "${idref}", which is not in the manifest`);
    if (fileStart.has(item.href)) continue; // listed again: its text is already in, at its first place
    const markup = zip.text(item.href);
    if (markup === null) throw bad(`the chapter file "${item.href}" listed in its reading order is missing from the archive`);
    fileStart.set(item.href, out.nextOffset);
    const { document } = parseMarkup(markup);
    const walked = walkDom(document.body ?? document, out);
    for (const h of walked.headings) headings.push(h); // not push(...): a long list overflows the call stack
    for (const [id, offset] of walked.anchors) anchors.set(`${item.href}#${id}`, offset);
  }
  const text = out.toString();
  const locate = (href: string, baseDir: string): number | null => {
    const [file, fragment] = splitHref(href);
    let target: string;
    try {
      // A table of contents may link to the web or elsewhere: such entries are skipped, not fatal.
      target = resolveHref(name, baseDir, file);
    } catch {
      return null;
    }
    if (file === '') return null;
    const offset = (fragment ? anchors.get(`${target}#${fragment}`) : undefined) ?? fileStart.get(target);
    return offset === undefined ? null : Math.min(offset, text.length);
  };

  // Table of contents and page-list: EPUB 3 nav first, then the EPUB 2 NCX.
  let chapters: ParsedChapter[] | null = null;
  let pages: PageMark[] | null = null;
  const navItem = [...manifest.values()].find((i) => i.properties.split(/\s+/).includes('nav'));
  if (navItem) {
    const navText = zip.text(navItem.href);
    if (navText !== null) {
      const nav = readNav(navText, path.posix.dirname(navItem.href), locate);
      chapters = nav.chapters.length > 0 ? nav.chapters : null;
      pages = nav.pages.length > 0 ? nav.pages : null;
    }
  }
  const ncxId = typeof spineNode['@_toc'] === 'string' ? spineNode['@_toc'] : undefined;
  const ncxItem = (ncxId ? manifest.get(ncxId) : undefined) ?? [...manifest.values()].find((i) => i.type === 'application/x-dtbncx+xml');
  if (ncxItem && (chapters === null || pages === null)) {
    const ncxText = zip.text(ncxItem.href);
    if (ncxText !== null) {
      const ncx = readNcx(parseXml(ncxText, name, ncxItem.href), path.posix.dirname(ncxItem.href), locate);
      if (chapters === null && ncx.chapters.length > 0) chapters = ncx.chapters;
      if (pages === null && ncx.pages.length > 0) pages = ncx.pages;
    }
  }
  // A TOC entry that points at a whole file lands on its first paragraph; move it onto its heading when that follows closely.
  for (const c of chapters ?? []) {
    const at = findHeading(text, c.title, c.start, Math.min(text.length, c.start + 400));
    if (at >= 0) c.start = at;
  }
  return {
    format: 'epub',
    title,
    author,
    text,
    chapters: chapters ?? headings,
    pages: pages ?? syntheticLocations(text),
  };
}

function readNav(markup: string, dir: string, locate: (href: string, baseDir: string) => number | null): { chapters: ParsedChapter[]; pages: PageMark[] } {
  const { document } = parseMarkup(markup);
  const navs = Array.from(document.querySelectorAll('nav'));
  const typeOf = (n: DomNode) => (n.getAttribute?.('epub:type') ?? n.getAttribute?.('type') ?? n.getAttribute?.('role') ?? '').split(/\s+/);
  const tocNav = navs.find((n) => typeOf(n).some((t) => t === 'toc' || t === 'doc-toc')) ?? navs[0];
  const pageNav = navs.find((n) => typeOf(n).some((t) => t === 'page-list' || t === 'doc-pagelist'));
  const chapters: ParsedChapter[] = [];
  // Lists within lists, in document order (an item's link, its sub-lists, then the next item),
  // with a stack of our own so that any depth of nesting passes.
  type Frame = { kind: 'top' | 'list' | 'item'; nodes: ArrayLike<DomNode>; i: number; level: number };
  const stack: Frame[] = tocNav ? [{ kind: 'top', nodes: tocNav.childNodes, i: 0, level: 0 }] : [];
  const isList = (n: DomNode) => n.localName === 'ol' || n.localName === 'ul';
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.i >= frame.nodes.length) {
      stack.pop();
      continue;
    }
    const node = frame.nodes[frame.i++]!;
    if (frame.kind === 'list') {
      if (node.localName === 'li') stack.push({ kind: 'item', nodes: node.childNodes, i: 0, level: frame.level });
    } else if (isList(node)) {
      stack.push({ kind: 'list', nodes: node.childNodes, i: 0, level: frame.level + 1 });
    } else if (frame.kind === 'item' && node.localName === 'a') {
      const start = locate(node.getAttribute?.('href') ?? '', dir);
      const title = collapse(node.textContent);
      if (start !== null && title) chapters.push({ title, level: frame.level, start });
    }
  }
  const pages: PageMark[] = [];
  if (pageNav) {
    for (const a of Array.from((pageNav as unknown as { querySelectorAll(s: string): ArrayLike<DomNode> }).querySelectorAll('a'))) {
      const start = locate(a.getAttribute?.('href') ?? '', dir);
      if (start !== null) pages.push({ start, number: pages.length + 1, label: collapse(a.textContent) || null });
    }
  }
  return { chapters, pages: monotonic(pages) };
}

function readNcx(doc: Xml, dir: string, locate: (href: string, baseDir: string) => number | null): { chapters: ParsedChapter[]; pages: PageMark[] } {
  const ncx = (doc['ncx'] ?? {}) as Xml;
  const chapters: ParsedChapter[] = [];
  const visit = (points: unknown, level: number) => {
    for (const p of asArray(points) as Xml[]) {
      const title = textOf((p['navLabel'] as Xml | undefined)?.['text']);
      const src = (p['content'] as Xml | undefined)?.['@_src'];
      const start = typeof src === 'string' ? locate(src, dir) : null;
      if (start !== null && title) chapters.push({ title, level, start });
      visit(p['navPoint'], level + 1);
    }
  };
  visit((ncx['navMap'] as Xml | undefined)?.['navPoint'], 1);
  const pages: PageMark[] = [];
  for (const t of asArray((ncx['pageList'] as Xml | undefined)?.['pageTarget']) as Xml[]) {
    const src = (t['content'] as Xml | undefined)?.['@_src'];
    const start = typeof src === 'string' ? locate(src, dir) : null;
    const label = textOf((t['navLabel'] as Xml | undefined)?.['text']) || (t['@_value'] == null ? null : String(t['@_value']));
    if (start !== null) pages.push({ start, number: pages.length + 1, label });
  }
  return { chapters, pages: monotonic(pages) };
}

/** Page marks must not go backwards (a bad page-list is cut where it does). */
function monotonic(pages: PageMark[]): PageMark[] {
  const out: PageMark[] = [];
  for (const p of pages) if (out.length === 0 || p.start >= out[out.length - 1]!.start) out.push({ ...p, number: out.length + 1 });
  return out;
}

/** Resolves an href against a folder inside the book; refuses anything that leaves the book. */
function resolveHref(bookName: string, baseDir: string, href: string): string {
  let decoded = href;
  try {
    decoded = decodeURIComponent(href);
  } catch {
    /* keep as is */
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(decoded) || decoded.startsWith('/') || decoded.includes('\\')) {
    throw new ApiError('unreadable', `${bookName} refers to "${href}", a path outside the book.`, 'The file may have been crafted to attack readers; it was not opened.');
  }
  const joined = path.posix.normalize(path.posix.join(baseDir === '.' ? '' : baseDir, decoded));
  if (joined === '..' || joined.startsWith('../') || joined.startsWith('/')) {
    throw new ApiError('unreadable', `${bookName} refers to "${href}", a path outside the book.`, 'The file may have been crafted to attack readers; it was not opened.');
  }
  return joined;
}

function splitHref(href: string): [string, string | null] {
  const hash = href.indexOf('#');
  return hash === -1 ? [href, null] : [href.slice(0, hash), href.slice(hash + 1) || null];
}

function parseXml(text: string, bookName: string, entry: string): Xml {
  try {
    return xml.parse(text) as Xml;
  } catch (e) {
    throw new ApiError('unreadable', `${bookName} is damaged: "${entry}" is not valid XML (${e instanceof Error ? e.message : String(e)}).`, 'Download or export the book again.');
  }
}

function get(o: Xml, ...keys: string[]): unknown {
  let cur: unknown = o;
  for (const k of keys) cur = cur && typeof cur === 'object' ? (cur as Xml)[k] : undefined;
  return cur;
}

function asArray(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

function textOf(v: unknown): string {
  if (Array.isArray(v)) return textOf(v[0]);
  if (v && typeof v === 'object') return collapse(String((v as Xml)['#text'] ?? ''));
  return v === undefined || v === null ? '' : collapse(String(v));
}
