// How what the app reads lines up with the model's units (docs/titans.md section 3): MAC attends
// within segments of C = config.segment tokens, every architecture's memory stores whole chunks of
// b = config.memory.chunkSize tokens (Eq. 13-14) at absolute positions. The app asks these functions
// and never does segment or chunk arithmetic itself.
import type { ModelConfig } from './config.js';

/** what the alignment depends on: the architecture, MAC's segment and the memory chunk */
export type AlignmentConfig = Pick<ModelConfig, 'arch' | 'segment'> & { memory: Pick<ModelConfig['memory'], 'chunkSize'> };

/** Tokens per forward call when reading a document: a whole number (at least one) of MAC segments,
 *  or of memory chunks for the other architectures, near `wanted`. */
export function readStep(c: AlignmentConfig, wanted = 256): number {
  const unit = c.arch === 'mac' ? c.segment : c.memory.chunkSize;
  return unit * Math.max(1, Math.round(wanted / unit));
}

/**
 * Spaces to put before a prompt of `length` tokens read from absolute position `pos`, so that its
 * last token ends one before a MAC segment does: the model attends only within its segment, and
 * this way the token it writes first (after "Answer:" and its space) sees the most of the prompt's
 * end. 0 for the other architectures (their attention window slides).
 */
export function promptPadding(c: Pick<ModelConfig, 'arch' | 'segment'>, pos: number, length: number): number {
  if (c.arch !== 'mac') return 0;
  const C = c.segment;
  return (((C - 2 - ((pos + length - 1) % C)) % C) + C) % C; // (pos + pad + length - 1) % C === C - 2
}

/** The prompt's token ids read from `pos`, after the `space` tokens promptPadding asks for. */
export function padPrompt(c: Pick<ModelConfig, 'arch' | 'segment'>, ids: ArrayLike<number>, pos: number, space: number): number[] {
  return [...new Array<number>(promptPadding(c, pos, ids.length)).fill(space), ...Array.from(ids)];
}

/** Tokens to add after `length` tokens read from `pos` so that the last memory chunk they touch is
 *  complete, i.e. every one of them is stored in the memory (and has its surprise measured). */
export function chunkPadding(c: Pick<AlignmentConfig, 'memory'>, pos: number, length: number): number {
  const b = c.memory.chunkSize;
  return (b - ((pos + length) % b)) % b;
}
