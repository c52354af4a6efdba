// The one shape every document parser (PDF, EPUB, DOCX, HTML) returns, with positions kept
// so that a passage can be cited ("chapter 3, page 41") and opened at the exact place.
import type { DocumentFormat } from '../../api/contract.js';

/** The formats a parser reads (the others, text and Markdown, are streamed). */
export type ParsedFormat = Exclude<DocumentFormat, 'text' | 'markdown'>;

export interface Chapter {
  title: string;
  /** 1 for top-level headings, 2 below them, and so on. */
  level: number;
  /** UTF-16 offset into ParsedDocument.text where the chapter begins. */
  start: number;
}

export interface PageMark {
  /** UTF-16 offset into ParsedDocument.text where the page (or location) begins. */
  start: number;
  /** 1-based physical page number (PDF, EPUB page-list order) or synthetic location number. */
  number: number;
  /** The page's own label ("xi", "A-3") when the document defines one, else null. */
  label: string | null;
}

export interface ParsedDocument {
  format: ParsedFormat;
  title: string | null;
  author: string | null;
  /** LF line ends, paragraphs separated by a blank line. */
  text: string;
  chapters: Chapter[];
  /**
   * PDF: one per page, with its page label when the PDF has labels.
   * EPUB: the book's own page-list when present, otherwise a synthetic location every ~1800 characters.
   * DOCX/HTML: synthetic locations every ~1800 characters.
   */
  pages: PageMark[];
}

export interface ParseOptions {
  /** Refuse files larger than this many bytes (default 1 GiB). */
  maxBytes?: number;
  /** Refuse a document whose text passes this many UTF-16 code units (default MAX_DOCUMENT_CHARS, 128 Mi). */
  maxChars?: number;
  /** The name to report in messages (an upload is stored under a temporary name). */
  displayName?: string;
}
