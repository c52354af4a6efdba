// Which parameters a fine-tune trains. 'memory': the neural memory's projections, convolutions,
// norms and gates (theta, eta, alpha, the output gate), not its initial weights; 'last': the last
// layer (attention, feed-forward and its memory) and the final norm.
import type { Trainable } from '../api/contract.js';

const MEMORY_INITIAL = /\.mem\.(mem\d+|memGamma)$/;

export function trainableFilter(which: Trainable, layers: number): ((name: string) => boolean) | undefined {
  if (which === 'all') return undefined;
  if (which === 'memory') return (name) => name.includes('.mem.') && !MEMORY_INITIAL.test(name);
  const last = `l${layers - 1}.`;
  return (name) => name.startsWith(last) || name === 'finalNorm';
}
