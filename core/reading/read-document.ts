// Reading a document into the model's neural memory (README, "Reading into memory"). Tokens stream from the
// stored text through the model step by step (a step is whole MAC segments); every token's surprise
// and every memory chunk's gates are recorded; every `checkpointTokens` tokens (8,192) one transaction
// writes the trace piece, the model state (float32, so a resumed read equals an uninterrupted one)
// and the progress. At the end the state is saved as the document's memory for this model version.
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint, encodeCheckpoint } from '../../models/checkpoint/format.js';
import type { SurpriseReport } from '../../models/memory/surprise.js';
import { readStep } from '../../models/model/alignment.js';
import { hasMemory } from '../../models/model/config.js';
import { stateFromCheckpoint, stateToCheckpoint } from '../../models/model/io.js';
import { disposeModelState, type ModelState, type TitansModel } from '../../models/model/model.js';
import type { OnnxReadingStep, OnnxState } from '../../models/onnx/reading-step.js';
import { stateTensors } from '../../models/model/state.js';
import type { Tokenizer } from '../../models/tokenizer/index.js';
import { prefetch } from '../../models/util/readback.js';
import { ApiError } from '../api/errors.js';
import type { Db } from '../library/database.js';
import { blocksFrom, charCount, isReady } from '../library/queries.js';
import { applyReadingWrite, nextPieceIndex, readingRow, startWrite, type ReadingWrite } from '../library/readings.js';
import { scoreToken } from './token-scores.js';
import { encodeSummary, encodeTracePiece, summarize, TOP_K, type LayerTrace, type TracePiece } from './trace.js';

export interface ReadOptions {
  db: Db;
  docId: number;
  modelId: string;
  model: TitansModel;
  tokenizer: Tokenizer;
  backend: string;
  /** tokens per forward call (rounded to whole MAC segments / memory chunks); default ~256 */
  stepTokens?: number;
  /** tokens between checkpoints (rounded up to whole steps); default 8192 */
  checkpointTokens?: number;
  /** the memory's inference path (models/memory/fast-update.ts: the same update and retrieval in
   *  fewer, larger kernels; 1.27x at the default shape by `npm run bench:model`); default true.
   *  false: the general path, which the training step uses */
  fast?: boolean;
  /** onnxruntime's reading step (models/onnx/reading-step.ts), which reads every whole segment
   *  from a segment boundary; tfjs reads the first segment and a last partial one. Absent: tfjs
   *  reads everything */
  onnx?: OnnxReadingStep | null;
  /** polled between steps: true pauses (a checkpoint is written first, so nothing is lost) */
  shouldStop?: () => boolean;
  onProgress?: (done: number, total: number) => void;
  /** where the reading's writes go (core/library/readings.ts): the model worker sends them to the
   * main thread; by default they are applied to `db` here */
  write?: (w: ReadingWrite) => void;
}

export type ReadOutcome = { outcome: 'done' | 'paused'; tokensDone: number; tokensTotal: number; seconds: number };

const LAST_LOGITS = 'reader.lastLogits';
const NO_TOP = Array.from({ length: TOP_K }, () => -1);
const NO_TOP_PROB = Array.from({ length: TOP_K }, () => NaN);
/**
 * Tokens between checkpoints: at ~2,000 tokens/s a crash loses at most ~4 s of reading, and a trace
 * piece (~11.5 bytes a token, ~94 KB) is large enough that its per-piece header (~1.6 KB) costs little.
 */
export const DEFAULT_CHECKPOINT_TOKENS = 8192;
const BLOCKS_PER_QUERY = 8;

/** Tokens per forward call: whole MAC segments / memory chunks near `wanted` (models/model/alignment.ts). */
export function stepSize(model: TitansModel, wanted = 256): number {
  return readStep(model.config, wanted);
}

/** Tokens of the document's text, block by block (the tokenizer runs per stored block). */
function* tokenStream(db: Db, docId: number, tokenizer: Tokenizer): Generator<{ ids: Int32Array; offsets: Int32Array }> {
  for (let from = 0; ; from += BLOCKS_PER_QUERY) {
    const rows = blocksFrom(db, docId, from, BLOCKS_PER_QUERY);
    for (const r of rows) {
      const e = tokenizer.encode(r.text);
      for (let i = 0; i < e.offsets.length; i++) e.offsets[i]! += r.start;
      yield e;
    }
    if (rows.length < BLOCKS_PER_QUERY) return;
  }
}

/** Tokens in the document; null when stopped on the way (a long book takes a while to count). */
export async function countTokens(db: Db, docId: number, tokenizer: Tokenizer, shouldStop: () => boolean = () => false): Promise<number | null> {
  let n = 0;
  let blocks = 0;
  for (const t of tokenStream(db, docId, tokenizer)) {
    n += t.ids.length;
    if (++blocks % 32 === 0) {
      await new Promise((resolve) => setImmediate(resolve)); // let a pause request in
      if (shouldStop()) return null;
    }
  }
  return n;
}

/** Pulls fixed-size runs of tokens (with their character offsets) from the stream. */
class TokenReader {
  private ids: Int32Array = new Int32Array(0);
  private offsets: Int32Array = new Int32Array(0);
  private readonly source: Generator<{ ids: Int32Array; offsets: Int32Array }>;

  constructor(db: Db, docId: number, tokenizer: Tokenizer, skip: number) {
    this.source = tokenStream(db, docId, tokenizer);
    while (skip > 0) {
      this.fill(Math.min(skip, 1 << 20));
      const n = Math.min(skip, this.ids.length);
      if (n === 0) break;
      this.ids = this.ids.subarray(n);
      this.offsets = this.offsets.subarray(n);
      skip -= n;
    }
  }

  private fill(n: number): void {
    while (this.ids.length < n) {
      const next = this.source.next();
      if (next.done) return;
      this.ids = concat(this.ids, next.value.ids);
      this.offsets = concat(this.offsets, next.value.offsets);
    }
  }

  /** offset of the next token, or null at the end of the text */
  peekOffset(): number | null {
    this.fill(1);
    return this.offsets.length > 0 ? this.offsets[0]! : null;
  }

  take(n: number): { ids: Int32Array; offsets: Int32Array } {
    this.fill(n);
    const k = Math.min(n, this.ids.length);
    const out = { ids: this.ids.slice(0, k), offsets: this.offsets.slice(0, k) };
    this.ids = this.ids.subarray(k);
    this.offsets = this.offsets.subarray(k);
    return out;
  }
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  if (a.length === 0) return b;
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Collects a piece of trace over several steps. */
class PieceBuilder {
  offsets: number[] = [];
  surprisal: number[] = [];
  rank: number[] = [];
  top: number[] = [];
  topProb: number[] = [];
  layers = new Map<number, { grad: number[]; loss: number[]; theta: number[]; firstChunk: number; eta: number[]; alpha: number[]; momentum: number[] }>();

  constructor(
    readonly startToken: number,
    memoryLayers: number[],
  ) {
    for (const l of memoryLayers) this.layers.set(l, { grad: [], loss: [], theta: [], firstChunk: -1, eta: [], alpha: [], momentum: [] });
  }

  get length(): number {
    return this.offsets.length;
  }

  build(chunkSize: number): TracePiece {
    const f = (a: number[]) => Float32Array.from(a);
    return {
      startToken: this.startToken,
      chunkSize,
      offsets: Int32Array.from(this.offsets),
      surprisal: f(this.surprisal),
      rank: Int32Array.from(this.rank),
      top: Int32Array.from(this.top),
      topProb: Float32Array.from(this.topProb),
      layers: [...this.layers].map(([layer, l]): { layer: number } & LayerTrace => ({
        layer,
        grad: f(l.grad),
        loss: f(l.loss),
        theta: f(l.theta),
        firstChunk: Math.max(0, l.firstChunk),
        eta: f(l.eta),
        alpha: f(l.alpha),
        momentum: f(l.momentum),
      })),
    };
  }
}

/** Per-token and per-chunk memory signals of one step, averaged over memory heads, into the piece. */
function addMemorySignals(piece: PieceBuilder, layer: number, reports: SurpriseReport[], stepStart: number, n: number): void {
  const l = piece.layers.get(layer)!;
  const base = l.grad.length;
  for (let i = 0; i < n; i++) {
    l.grad.push(NaN);
    l.loss.push(NaN);
    l.theta.push(NaN);
  }
  for (const r of reports) {
    const G = r.memories;
    for (let t = 0; t < r.length; t++) {
      const local = r.start + t - stepStart;
      if (local < 0 || local >= n) continue; // a chunk begun before this step (only after a misaligned resume)
      let grad = 0;
      let loss = 0;
      let theta = 0;
      for (let g = 0; g < G; g++) {
        let sq = 0;
        for (const gn of r.gradNorm) sq += gn[g * r.length + t]! ** 2;
        grad += Math.sqrt(sq);
        loss += r.loss[g * r.length + t]!;
        theta += r.theta[g * r.length + t]!;
      }
      l.grad[base + local] = grad / G;
      l.loss[base + local] = loss / G;
      l.theta[base + local] = theta / G;
    }
    if (r.chunks > 0 && l.firstChunk < 0) l.firstChunk = r.firstChunk;
    for (let c = 0; c < r.chunks; c++) {
      let eta = 0;
      let alpha = 0;
      let mom = 0;
      for (let g = 0; g < G; g++) {
        eta += r.eta[g * r.chunks + c]!;
        alpha += r.alpha[g * r.chunks + c]!;
        mom += r.momentumNorm[g * r.chunks + c]!;
      }
      l.eta.push(eta / G);
      l.alpha.push(alpha / G);
      l.momentum.push(mom / G);
    }
  }
}

/** Read (or go on reading) one document into the model's memory. */
export async function readDocument(o: ReadOptions): Promise<ReadOutcome> {
  const { db, docId, modelId, model, tokenizer } = o;
  const write = o.write ?? ((w: ReadingWrite) => applyReadingWrite(db, w));
  const key = { docId, modelId };
  if (!isReady(db, docId)) {
    throw new ApiError('not_found', `Document ${docId} is not in the library.`, 'It may have been deleted.');
  }
  const row = readingRow(db, docId, modelId) ?? { status: 'reading', tokensDone: 0, tokensTotal: null, seconds: 0, checkpoint: null };
  if (row.status === 'done') return { outcome: 'done', tokensDone: row.tokensDone, tokensTotal: row.tokensTotal ?? row.tokensDone, seconds: row.seconds };
  // this process reads it now (the queue has said so already; a direct caller, such as a test, has not)
  write(startWrite(docId, modelId));

  const counted = row.tokensTotal ?? (await countTokens(db, docId, tokenizer, o.shouldStop));
  if (counted === null) {
    write({ kind: 'paused', ...key });
    return { outcome: 'paused', tokensDone: row.tokensDone, tokensTotal: 0, seconds: row.seconds };
  }
  const total = counted;
  if (row.tokensTotal === null) write({ kind: 'total', ...key, tokens: total });
  const docEnd = charCount(db, docId);

  // Resume from the last checkpoint: the state, and the logits that predict the next token.
  let state: ModelState | null = null;
  let lastLogits: Float32Array | null = null;
  let pos = 0;
  if (row.checkpoint) {
    const c = decodeCheckpoint(row.checkpoint);
    state = stateFromCheckpoint(c);
    lastLogits = (c.tensors.find((t) => t.name === LAST_LOGITS)?.data as Float32Array | undefined) ?? null;
    pos = state.pos;
  }
  // Pieces past the checkpoint cannot exist (they are written with it), but never keep a stale one.
  write({ kind: 'dropTracesFrom', ...key, token: pos });
  let pieceIndex = nextPieceIndex(db, docId, modelId, pos);

  const step = stepSize(model, o.stepTokens);
  const every = Math.max(step, Math.ceil((o.checkpointTokens ?? DEFAULT_CHECKPOINT_TOKENS) / step) * step);
  const memoryLayers = Array.from({ length: model.config.layers }, (_, l) => l).filter((l) => hasMemory(model.config, l));
  const V = model.config.vocabSize;
  const tokens = new TokenReader(db, docId, tokenizer, pos);
  let piece = new PieceBuilder(pos, memoryLayers);
  let secondsBefore = row.seconds;
  let sessionStart = performance.now();

  const commit = (final: boolean) => {
    const seconds = secondsBefore + (performance.now() - sessionStart) / 1000;
    const built = piece.length > 0 ? piece.build(model.config.memory.chunkSize) : null;
    const endChar = tokens.peekOffset() ?? docEnd;
    write({
      kind: 'commit',
      ...key,
      piece: built ? { index: pieceIndex, startToken: built.startToken, tokens: built.offsets.length, startChar: built.offsets[0]!, endChar, data: encodeTracePiece(built), summary: encodeSummary(summarize(built, endChar)) } : null,
      tokensDone: pos,
      seconds,
      checkpoint: state && !final ? checkpointBytes(state, lastLogits) : null,
      memory: final ? { state: encodeCheckpoint(stateToCheckpoint(state!, { model: modelId, document: docId, tokens: pos })), backend: o.backend } : null,
    });
    if (built) pieceIndex++;
    piece = new PieceBuilder(pos, memoryLayers);
    secondsBefore = seconds;
    sessionStart = performance.now();
  };

  // the state in onnxruntime's arrays (o.onnx), or null while tfjs holds it in `state`
  const onnx = o.onnx ?? null;
  let onnxState: OnnxState | null = null;
  const toTfjs = () => {
    if (!onnxState) return;
    state = onnx!.toModelState(onnxState);
    onnxState = null;
  };
  // checkpoints read the state synchronously: on webgpu, read it asynchronously first
  const readableState = () => {
    toTfjs();
    return prefetch(state ? stateTensors(state) : []);
  };

  try {
    o.onProgress?.(pos, total);
    while (pos < total) {
      if (o.shouldStop?.()) {
        await readableState();
        commit(false);
        write({ kind: 'paused', ...key });
        return { outcome: 'paused', tokensDone: pos, tokensTotal: total, seconds: secondsBefore };
      }
      const { ids, offsets } = tokens.take(Math.min(step, total - pos));
      if (ids.length === 0) break; // the text is shorter than counted (cannot happen unless it changed)
      const n = ids.length;
      let logits: Float32Array;
      let surprise: SurpriseReport[][];
      const S = onnx?.segment ?? 0;
      if (onnx && n % S === 0 && (onnxState || onnx.accepts(state, S))) {
        // onnxruntime, segment by segment; the state stays in its arrays until a checkpoint
        if (!onnxState) {
          onnxState = onnx.fromModelState(state!);
          disposeModelState(state);
          state = null;
        }
        logits = new Float32Array(n * V);
        surprise = Array.from({ length: model.config.layers }, () => []);
        for (let k = 0; k < n; k += S) {
          const r = await onnx.step(ids.subarray(k, k + S), onnxState);
          logits.set(r.logits, k * V);
          r.surprise.forEach((reports, l) => surprise[l]!.push(...reports));
          onnxState = r.state;
        }
      } else {
        toTfjs();
        const input = tf.tensor2d(ids, [1, n], 'int32');
        let r: ReturnType<TitansModel['forward']>;
        try {
          r = await model.forwardAsync(input, state, { surprise: true, fast: o.fast !== false }); // async reads: webgpu too
        } finally {
          input.dispose();
        }
        try {
          logits = (await r.logits.data()) as Float32Array;
        } catch (e) {
          disposeModelState(r.state);
          throw e;
        } finally {
          r.logits.dispose();
        }
        disposeModelState(state);
        state = r.state;
        surprise = r.surprise!;
      }

      for (let i = 0; i < n; i++) {
        const prev = i === 0 ? lastLogits : logits.subarray((i - 1) * V, i * V);
        const s = prev ? scoreToken(prev, ids[i]!) : { surprisal: NaN, rank: -1, top: NO_TOP, topProb: NO_TOP_PROB };
        piece.offsets.push(offsets[i]!);
        piece.surprisal.push(s.surprisal);
        piece.rank.push(s.rank);
        piece.top.push(...s.top);
        piece.topProb.push(...s.topProb);
      }
      lastLogits = logits.slice((n - 1) * V, n * V);
      for (const l of memoryLayers) addMemorySignals(piece, l, surprise[l]!, pos, n);
      pos += n;
      if (piece.length >= every && pos < total) {
        await readableState();
        commit(false);
      }
      o.onProgress?.(pos, total);
      await new Promise((resolve) => setImmediate(resolve)); // let a pause request in
    }
    toTfjs();
    if (!state) throw new ApiError('empty_file', 'The document has no text to read.');
    await readableState();
    commit(true);
    return { outcome: 'done', tokensDone: pos, tokensTotal: total, seconds: secondsBefore };
  } finally {
    disposeModelState(state);
  }
}

function checkpointBytes(state: ModelState, lastLogits: Float32Array | null): Uint8Array {
  const c = stateToCheckpoint(state, { reader: 1 });
  if (lastLogits) c.tensors.push({ name: LAST_LOGITS, shape: [lastLogits.length], data: lastLogits });
  return encodeCheckpoint(c);
}
