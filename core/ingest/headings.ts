// Which lines are headings: Markdown syntax, and the usual chapter lines of plain-text books.

/**
 * `# Title`, up to six levels; the closing #s and simple emphasis markers are dropped. Read by
 * hand: the regex this replaces, /^\s{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/, is quadratic on
 * a long run of spaces inside the line.
 */
export function headingOfMarkdownLine(line: string): { title: string; level: number } | null {
  let i = 0;
  while (i < 3 && i < line.length && /\s/.test(line[i]!)) i++;
  let level = 0;
  while (line.charCodeAt(i + level) === 0x23 /* # */ && level < 7) level++;
  if (level < 1 || level > 6) return null;
  i += level;
  if (!isSpaceOrTab(line.charCodeAt(i))) return null;
  const rest = line.slice(i + 1);
  if (/[\r\n\u2028\u2029]/.test(rest)) return null; // '.' in the old pattern
  let end = rest.length;
  while (end > 0 && isSpaceOrTab(rest.charCodeAt(end - 1))) end--;
  let hashes = end;
  while (hashes > 0 && rest.charCodeAt(hashes - 1) === 0x23) hashes--;
  // A closing run of #s counts only after a space or tab.
  if (hashes < end && hashes > 0 && isSpaceOrTab(rest.charCodeAt(hashes - 1))) end = hashes;
  const title = rest.slice(0, end).replace(/[*_`]+/g, '').trim();
  return title ? { title, level } : null;
}

const isSpaceOrTab = (c: number) => c === 0x20 || c === 0x09;

/**
 * `title: ...` or `author: ...` (any case) at the start of a line: the key and the value, trimmed;
 * with `quotes`, one quote mark at each end is dropped too (YAML front matter). Null for other
 * lines or an empty value. (By hand: /^(title|author):\s*(.+?)\s*$/i is quadratic on long runs of
 * spaces.)
 */
export function metaLine(line: string, quotes: boolean): { key: 'title' | 'author'; value: string } | null {
  const m = /^(title|author):/i.exec(line);
  if (!m) return null;
  let value = line.slice(m[0].length).trimStart();
  if (quotes && (value[0] === '"' || value[0] === "'")) value = value.slice(1);
  value = value.trimEnd();
  if (quotes && (value.endsWith('"') || value.endsWith("'"))) value = value.slice(0, -1);
  if (value === '' || /[\r\n\u2028\u2029]/.test(value)) return null;
  return { key: m[1]!.toLowerCase() as 'title' | 'author', value };
}

/** `===` under a line makes it a level-1 heading, `---` a level-2 one. */
export function setextLevel(line: string): 1 | 2 | null {
  if (/^\s{0,3}=+\s*$/.test(line)) return 1;
  if (/^\s{0,3}-{2,}\s*$/.test(line)) return 2;
  return null;
}

const PART_WORDS = 'book|part|volume|книга|часть|том|teil|buch|parte|libro|livre|partie|tome';
const CHAPTER_WORDS = 'chapter|act|scene|глава|kapitel|capítulo|capitulo|chapitre|capitolo|hoofdstuk';
const NUMBER = '(?:\\d+|[ivxlcdm]+|[a-zа-яё]+)';
const PART_RE = new RegExp(`^(?:${PART_WORDS})\\.?\\s+${NUMBER}\\b`, 'iu');
const CHAPTER_RE = new RegExp(`^(?:${CHAPTER_WORDS})\\.?\\s+${NUMBER}\\b`, 'iu');
const ROMAN_RE = /^[IVXLC]{1,8}\.?$/;

/** A short line after a blank one that reads like "CHAPTER IV", "Part 2", "Глава 3" or "XII." */
export function headingOfPlainLine(line: string): { title: string; level: number } | null {
  const t = line.trim();
  if (t.length === 0 || t.length > 80) return null;
  if (PART_RE.test(t)) return { title: t, level: 1 };
  if (CHAPTER_RE.test(t)) return { title: t, level: 2 };
  if (ROMAN_RE.test(t)) return { title: t, level: 2 };
  return null;
}
