import { formatDuration } from '../../../core/util/format';

export { formatBytes } from '../../../core/util/format';

export function formatCount(n: number): string {
  return n.toLocaleString('en');
}

export function formatEta(seconds: number | null): string {
  if (seconds === null) return 'estimating…';
  if (seconds < 1) return 'almost done';
  return `${formatDuration(seconds)} left`;
}

export function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** Where a passage is, for people: "page xi · Chapter 3 · line 1,204" (PDF pages by their label; locations elsewhere). */
export function placeLabel(format: string | undefined, p: { page: { number: number; label: string | null } | null; chapter: string | null; line: number }): string {
  const page = p.page ? (format === 'pdf' ? `page ${p.page.label ?? p.page.number}` : `location ${p.page.number}`) : null;
  return [page, p.chapter, `line ${formatCount(p.line)}`].filter(Boolean).join(' · ');
}
