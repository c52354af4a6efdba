// Plain-text formatting for the terminal.
export { formatBytes, formatDuration } from '../util/format.js';

export function table(header: string[], rows: string[][]): string {
  const clip = (s: string) => (s.length > 48 ? s.slice(0, 47) + '…' : s);
  const all = [header, ...rows].map((r) => r.map(clip));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
