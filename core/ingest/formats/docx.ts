// Word documents (.docx): mammoth turns the body into HTML (Heading 1-6 styles become h1-h6,
// which become chapters); the title and author come from docProps/core.xml.
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import mammoth from 'mammoth';
import { ApiError } from '../../api/errors.js';
import { collapse, parseMarkup, syntheticLocations, TextBuilder, walkDom } from './blocks.js';
import type { ParsedDocument } from './types.js';
import { isZip, ZipArchive, type ZipLimits } from './zip.js';

export async function parseDocx(bytes: Buffer, file: string, opts: { limits?: ZipLimits; maxChars?: number } = {}): Promise<ParsedDocument> {
  const name = path.basename(file);
  if (!isZip(bytes)) {
    throw new ApiError('unreadable', `${name} is not a Word document: a .docx file is a ZIP archive, and this one is not.`, 'If it is an old Word 97-2003 (.doc) or a text file, open it in a word processor and save it as .docx.');
  }
  const zip = ZipArchive.open(bytes, name, 'Word document', opts.limits);
  if (!zip.has('word/document.xml')) {
    throw new ApiError('unreadable', `${name} is a ZIP archive but not a Word document (it has no word/document.xml).`, 'Check that you picked the right file.');
  }
  // mammoth inflates with JSZip, which trusts the sizes entries declare: inflate the XML parts
  // once here with the capped reader so that a lying entry is refused before mammoth sees it.
  // And check that they are XML at all (a linear check): mammoth's XML parser is quadratic on
  // some damage (thousands of root elements took 15 s).
  for (const part of zip.names()) {
    if (!/\.(xml|rels)$/i.test(part)) continue;
    const xml = zip.text(part)!;
    const valid = XMLValidator.validate(xml);
    if (valid !== true) {
      throw new ApiError('unreadable', `${name} is damaged: "${part}" inside it is not valid XML (${valid.err.msg.slice(0, 200).replace(/\.$/, '')}, line ${valid.err.line}).`, 'Open it in Word or LibreOffice and save it again as .docx.');
    }
  }
  let html: string;
  try {
    // Images are not needed for the text: skip them instead of inlining them as base64.
    const convertImage = mammoth.images.imgElement(async () => ({ src: '' }));
    html = (await mammoth.convertToHtml({ buffer: bytes }, { convertImage })).value;
  } catch (e) {
    throw new ApiError('unreadable', `${name} could not be read as a Word document: ${e instanceof Error ? e.message : String(e)}.`, 'Open it in Word or LibreOffice and save it again as .docx.');
  }
  const { document } = parseMarkup(`<html><body>${html}</body></html>`);
  const out = new TextBuilder(name, opts.maxChars);
  const { headings } = walkDom(document.body ?? document, out);
  const text = out.toString();
  const meta = coreProperties(zip.text('docProps/core.xml'));
  return { format: 'docx', title: meta.title, author: meta.author, text, chapters: headings, pages: syntheticLocations(text) };
}

function coreProperties(xml: string | null): { title: string | null; author: string | null } {
  if (!xml) return { title: null, author: null };
  try {
    const parsed = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true }).parse(xml) as { coreProperties?: Record<string, unknown> };
    const props = parsed.coreProperties ?? {};
    const str = (v: unknown) => collapse(typeof v === 'object' && v !== null ? String((v as Record<string, unknown>)['#text'] ?? '') : v == null ? '' : String(v)) || null;
    return { title: str(props['title']), author: str(props['creator']) };
  } catch {
    return { title: null, author: null };
  }
}
