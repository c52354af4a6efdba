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
