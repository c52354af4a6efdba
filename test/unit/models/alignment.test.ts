// models/model/alignment.ts: the segment and chunk arithmetic the app asks the model for (issue 18:
// core computed it itself before). Each function is compared with the formula core used before,
// on many positions, lengths and configurations, and the answer-tuning examples that
// scripts/export-answers.ts writes come out token for token as before.
import { describe, expect, it } from 'vitest';
import { answerExample, tokenizeExample } from '../../../core/training/answer-tuning.js';
import { chunkPadding, padPrompt, promptPadding, readStep } from '../../../models/model/alignment.js';
import { attentionSegment, modelConfig, type Architecture } from '../../../models/model/config.js';
import { ByteTokenizer } from '../../../models/tokenizer/byte-tokenizer.js';

// ---- the formulas as core had them (core/ask/prompt.ts, core/reading/read-document.ts, recall.ts)
function oldSegmentPadding(pos: number, length: number, segment: number | null): number {
  if (!segment) return 0;
  return (((segment - 2 - ((pos + length - 1) % segment)) % segment) + segment) % segment;
}
function oldPadToSegment(ids: ArrayLike<number>, pos: number, segment: number | null, space: number): number[] {
  return [...new Array<number>(oldSegmentPadding(pos, ids.length, segment)).fill(space), ...Array.from(ids)];
}
function oldStepSize(c: { arch: Architecture; segment: number; memory: { chunkSize: number } }, wanted = 256): number {
  const unit = c.arch === 'mac' ? c.segment : c.memory.chunkSize;
  return unit * Math.max(1, Math.round(wanted / unit));
}
const oldCuePad = (b: number, pos: number, n: number) => (b - ((pos + n) % b)) % b;
function oldTokenizeExample(tokenizer: ByteTokenizer, ex: { prompt: string; target: string }, contextWeight: number, segment: number | null) {
  const prompt = oldPadToSegment(tokenizer.encode(ex.prompt).ids, 0, segment, tokenizer.encode(' ').ids[0]!);
  const target = tokenizer.encode(ex.target).ids;
  const ids = Int32Array.from([...prompt, ...target]);
  const weights = new Float32Array(ids.length - 1).fill(contextWeight);
  const answerFrom = prompt.length - 1;
  weights.fill(1, answerFrom);
  return { ids, weights, answerFrom };
}

const ARCHS: Architecture[] = ['mac', 'mag', 'mal', 'lmm'];
const configs = ARCHS.flatMap((arch) =>
  [
    [8, 4],
    [32, 8],
    [64, 16],
    [512, 16],
    [48, 16],
  ].map(([segment, chunkSize]) => modelConfig({ arch, segment, dim: 16, heads: 2, memory: { chunkSize } })),
);

describe('model alignment (what core asks the model instead of computing it)', () => {
  it('promptPadding and padPrompt equal the old segmentPadding / padToSegment of core/ask/prompt.ts', () => {
    for (const c of configs) {
      const segment = attentionSegment(c);
      for (let pos = 0; pos < 140; pos += 3) {
        for (let length = 1; length < 140; length += 5) {
          expect(promptPadding(c, pos, length)).toBe(oldSegmentPadding(pos, length, segment));
        }
      }
      const ids = [5, 6, 7, 8, 9, 10, 11];
      for (const pos of [0, 1, 30, 63, 64, 1000]) expect(padPrompt(c, ids, pos, 32)).toEqual(oldPadToSegment(ids, pos, segment, 32));
    }
  });

  it('readStep equals the old stepSize of core/reading/read-document.ts', () => {
    for (const c of configs) for (const wanted of [undefined, 1, 7, 16, 100, 256, 300, 1000, 4096]) expect(readStep(c, wanted)).toBe(oldStepSize(c, wanted));
  });

  it("chunkPadding equals the old cue padding of core/reading/recall.ts and completes the last chunk", () => {
    for (const c of configs) {
      const b = c.memory.chunkSize;
      for (let pos = 0; pos < 70; pos++) {
        for (let n = 0; n < 40; n++) {
          const pad = chunkPadding(c, pos, n);
          expect(pad).toBe(oldCuePad(b, pos, n));
          expect((pos + n + pad) % b).toBe(0);
          expect(pad).toBeLessThan(b);
        }
      }
    }
  });

  it('answer-tuning examples (scripts/export-answers.ts, npm run train:answers) are token for token as before', () => {
    const tok = new ByteTokenizer();
    const samples = [
      { text: 'Fred went to the park. Mary took the apple there.', question: 'Where is Fred?', answer: 'park', task: 'qa1' },
      { text: `${'The harbor slept. '.repeat(9)}The special magic number for quiet-harbor is: 4728151.`, question: 'What is the special magic number for quiet-harbor?', answer: '4728151', task: 'niah' },
      { text: 'x', question: 'y?', answer: 'z', task: 'qa2' },
    ];
    for (const c of configs) {
      for (const s of samples) {
        const ex = answerExample(s);
        for (const w of [0.1, 0]) {
          const now = tokenizeExample(tok, ex, w, c);
          const before = oldTokenizeExample(tok, ex, w, attentionSegment(c));
          expect(Array.from(now.ids)).toEqual(Array.from(before.ids));
          expect(Array.from(now.weights)).toEqual(Array.from(before.weights));
          expect(now.answerFrom).toBe(before.answerFrom);
        }
      }
    }
  });
});
