// Which lines are headings: Markdown syntax, and the usual chapter lines of plain-text books.

/** `# Title`, up to six levels; the closing #s and simple emphasis markers are dropped. */
export function headingOfMarkdownLine(line: string): { title: string; level: number } | null {
  const m = /^\s{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
  if (!m) return null;
  const title = m[2]!.replace(/[*_`]+/g, '').trim();
  return title ? { title, level: m[1]!.length } : null;
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
