// The one shape every document parser (PDF, EPUB, DOCX, HTML) returns, with positions kept
// so that a passage can be cited ("chapter 3, page 41") and opened at the exact place.
import type { Chapter, DocumentFormat, PageMark } from '../../api/contract.js';

export type { PageMark };

/** The formats a parser reads (the others, text and Markdown, are streamed). */
export type ParsedFormat = Exclude<DocumentFormat, 'text' | 'markdown'>;

/** A chapter as a parser finds it: the contract's Chapter before its line is counted (the
 * importer counts it). level: 1 for top-level headings, 2 below them, and so on; start: the UTF-16
 * offset into ParsedDocument.text where the chapter begins. */
export type ParsedChapter = Omit<Chapter, 'line'>;

// PageMark (the contract's): start is the UTF-16 offset into ParsedDocument.text where the page
// (or location) begins; number the 1-based physical page number (PDF, EPUB page-list order) or a
// synthetic location number; label the page's own label ("xi", "A-3") when the document defines one.

export interface ParsedDocument {
  format: ParsedFormat;
  title: string | null;
  author: string | null;
  /** LF line ends, paragraphs separated by a blank line. */
  text: string;
  chapters: ParsedChapter[];
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
