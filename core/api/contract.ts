// The one typed contract between the UI (or CLI, or tests) and the core.
// Every transport (in-process, Electron IPC, WebSocket) carries exactly these requests and events,
// and every request is validated against these schemas where it enters the core. Out of process
// they travel over the one RPC (core/rpc/rpc.ts, apiContract below): results and a call's streamed
// chunks are validated on receipt too, and events come as the chunks of one 'events.subscribe' call.
import { z } from 'zod';
import { ErrorInfo } from './errors.js';

const id = z.number().int().positive();

export const Chapter = z.object({
  title: z.string(),
  level: z.number().int().min(1).max(6),
  start: z.number().int().nonnegative(), // character offset in the normalized text
  line: z.number().int().positive(), // 1-based line number
});
export type Chapter = z.infer<typeof Chapter>;

// The normalized text is stored in blocks that end on a line break where possible; the reader
// virtualizes over them.
export const BlockInfo = z.object({
  start: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
  line: z.number().int().positive(),
});
export type BlockInfo = z.infer<typeof BlockInfo>;

export const DocumentFormat = z.enum(['text', 'markdown', 'pdf', 'epub', 'docx', 'html']);
export type DocumentFormat = z.infer<typeof DocumentFormat>;

/** 'interrupted' is never stored: it is a 'reading' row whose reading process is gone (core/library/reading-status.ts). */
export const ReadingState = z.enum(['queued', 'reading', 'paused', 'done', 'failed', 'interrupted']);
export type ReadingState = z.infer<typeof ReadingState>;

/** A document's latest reading into a model's memory, as the library list shows it. */
export const ReadingBrief = z.object({
  status: ReadingState,
  tokensDone: z.number().int().nonnegative(), // at the last checkpoint (live progress comes as job events)
  tokensTotal: z.number().int().nonnegative().nullable(),
  modelId: z.string(),
  modelName: z.string(),
  /** what computed the memory, e.g. "webgpu (its adapter)", "wasm"; null until the reading is done */
  backend: z.string().nullable(),
});
export type ReadingBrief = z.infer<typeof ReadingBrief>;

export const ReadingStatus = ReadingBrief.extend({
  docId: id,
  title: z.string(),
  modelTrained: z.boolean(),
  seconds: z.number().nonnegative(),
  tokensPerSecond: z.number().nonnegative().nullable(),
  error: ErrorInfo.nullable(),
  updatedAt: z.string(),
});
export type ReadingStatus = z.infer<typeof ReadingStatus>;

export const DocumentSummary = z.object({
  id,
  title: z.string(),
  author: z.string().nullable(),
  format: DocumentFormat,
  fileName: z.string(),
  fileSize: z.number().int().nonnegative(),
  encoding: z.string(),
  chars: z.number().int().nonnegative(),
  lines: z.number().int().nonnegative(),
  chapters: z.number().int().nonnegative(),
  pages: z.number().int().nonnegative(), // PDF pages, an EPUB's page list, or locations (~1,800 characters); 0 for text
  importedAt: z.string(), // ISO 8601
  reading: ReadingBrief.nullable(),
});
export type DocumentSummary = z.infer<typeof DocumentSummary>;

export const PageMark = z.object({
  start: z.number().int().nonnegative(),
  number: z.number().int().positive(),
  label: z.string().nullable(), // the document's own label ("xi") where it has one
});
export type PageMark = z.infer<typeof PageMark>;

export const DocumentDetail = DocumentSummary.extend({
  chapterList: z.array(Chapter),
  pageList: z.array(PageMark),
  blocks: z.array(BlockInfo),
});
export type DocumentDetail = z.infer<typeof DocumentDetail>;

export const FindMatch = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  line: z.number().int().positive(),
  context: z.string(),
});
export type FindMatch = z.infer<typeof FindMatch>;

export const ImportResult = z.object({
  document: DocumentSummary,
  duplicate: z.boolean(), // true: this exact file was already in the library; nothing was added
});
export type ImportResult = z.infer<typeof ImportResult>;

export const JobState = z.enum(['running', 'done', 'failed', 'cancelled']);
export const JobProgress = z.object({
  jobId: z.string(),
  kind: z.enum(['import', 'read', 'finetune']),
  label: z.string(),
  docId: id.optional(), // the document the job works on, once known
  state: JobState,
  done: z.number().nonnegative(),
  total: z.number().nonnegative(),
  unit: z.enum(['bytes', 'tokens', 'steps']),
  ratePerSecond: z.number().nonnegative().nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
  error: ErrorInfo.optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  transport: z.enum(['in-process', 'electron', 'websocket']),
  dataDir: z.string(),
  databasePath: z.string(),
  schemaVersion: z.number().int(),
  features: z.object({ nativeOpenDialog: z.boolean(), importByPath: z.boolean() }),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const SurprisingPassage = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  line: z.number().int().positive(),
  page: PageMark.nullable(), // the page or location it is on (null for plain text: use the line)
  chapter: z.string().nullable(),
  score: z.number(), // mean surprise over the passage's tokens
  text: z.string(),
});
export type SurprisingPassage = z.infer<typeof SurprisingPassage>;

const maybe = z.number().nullable(); // null where a value is undefined (the first token, a chunk not yet stored)

/** The memory's signals at one token, for one memory layer. */
export const MemorySignals = z.object({
  grad: maybe, // ||grad_W l_t||: the memory's momentary surprise
  loss: maybe, // l_t = ||M(k_t) - v_t||^2
  theta: maybe, // learning rate
  eta: maybe, // momentum gate of the token's chunk
  alpha: maybe, // forgetting gate of the token's chunk
  momentum: maybe, // ||S|| after the chunk
});

export const TokenTrace = z.object({
  modelId: z.string(),
  modelName: z.string(),
  layers: z.array(z.number().int()), // the memory layers, in the order of each token's `memory`
  tokens: z.array(
    z.object({
      index: z.number().int().nonnegative(), // token number in the document
      start: z.number().int().nonnegative(), // character offset
      surprisal: maybe, // -ln p(token | before), nats
      rank: z.number().int().nullable(), // tokens the model found likelier (0: its top guess)
      rankApprox: z.boolean().optional(), // true: the rank is stored to within 4% (ranks from 128 up)
      top: z.array(z.object({ text: z.string(), p: maybe })), // the model's likeliest tokens here
      topKept: z.boolean().optional(), // false: not stored for this token (a reading keeps only its most surprising tenth's)
      memory: z.array(MemorySignals),
    }),
  ),
});
export type TokenTrace = z.infer<typeof TokenTrace>;

/** The overlay's columns for a range of text: one entry per token (the first of a character's). */
export const OverlayTrace = z.object({
  modelId: z.string(),
  layers: z.array(z.number().int()),
  starts: z.array(z.number().int().nonnegative()),
  surprisal: z.array(maybe),
  grad: z.array(z.array(maybe)), // per memory layer, per token
});
export type OverlayTrace = z.infer<typeof OverlayTrace>;

const LayerPoint = z.object({ gradMean: maybe, gradMax: maybe, theta: maybe, eta: maybe, alpha: maybe, momentum: maybe });
export const SeriesPoint = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  lmMean: maybe,
  lmMax: maybe,
  memMean: maybe, // the memory's surprise, mean over layers
  memMax: maybe,
  layers: z.array(LayerPoint),
});
export type SeriesPoint = z.infer<typeof SeriesPoint>;

export const RecallResult = z.object({
  modelId: z.string(),
  modelName: z.string(),
  cueTokens: z.number().int(),
  /** the cue under no document's memory (a fresh state), then under each read document's */
  rows: z.array(
    z.object({
      docId: id.nullable(), // null: no memory
      title: z.string(),
      lmLoss: maybe, // mean surprisal of the cue's tokens (after its first), nats
      memLoss: z.array(maybe), // per memory layer, the memory's mean loss on the cue: how familiar it is
      next: z.string(), // what the model writes after the cue (greedy)
    }),
  ),
});
export type RecallResult = z.infer<typeof RecallResult>;

/** A passage an answer rests on, with everything needed to open the reader exactly there. */
export const Citation = z.object({
  docId: id,
  title: z.string(),
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  line: z.number().int().positive(),
  page: PageMark.nullable(),
  chapter: z.string().nullable(),
  text: z.string(),
  score: z.number(), // the fused score (reciprocal rank fusion)
  bm25: z.number(), // FTS5 BM25 relevance (higher is better)
  bm25Rank: z.number().int().positive(),
  memoryRank: z.number().int().positive().nullable(), // the book's rank by its memory's familiarity with the question
  modelRank: z.number().int().positive().nullable().default(null), // the passage's rank by the model's score with its book's memory (rerank)
});
export type Citation = z.infer<typeof Citation>;

/** A sentence (one or two, at most 400 characters) of a cited passage that answers the question,
 * with its place in the book, so it can be highlighted there (core/ask/answer-sentence.ts). */
export const AnswerSentence = z.object({
  docId: id,
  title: z.string(),
  /** 0: this book's answer; 1, 2: its next best sentences */
  rank: z.number().int().nonnegative().default(0),
  /** index into the question's citations: the passage that holds it */
  citation: z.number().int().nonnegative(),
  start: z.number().int().nonnegative(), // character offsets in the book
  end: z.number().int().nonnegative(),
  line: z.number().int().positive(),
  page: PageMark.nullable(),
  chapter: z.string().nullable(),
  text: z.string(), // as shown: whitespace collapsed
  /** how likely it is to answer (the ranker's probability, calibrated on FairytaleQA val) */
  confidence: z.number().min(0).max(1),
  /** the model scored it with the book's memory loaded (false: text features alone) */
  modelScored: z.boolean(),
  /** the short answer within it (offsets in the book); shown only when confident enough */
  span: z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative(), text: z.string(), confidence: z.number().min(0).max(1), shown: z.boolean() }).nullable(),
});
export type AnswerSentence = z.infer<typeof AnswerSentence>;

/** One book's answer: generated with the book's memory loaded and its best passages in context. */
export const BookAnswer = z.object({
  docId: id,
  title: z.string(),
  text: z.string(),
  /** indexes into the question's citations: the passages this answer was given */
  citations: z.array(z.number().int().nonnegative()),
  /** the answer's words occur in those passages (false: the model wrote something they do not say) */
  supported: z.boolean(),
  usedMemory: z.boolean(),
  /** copy: the answer was kept to spans of its passages; free: the model wrote it unconstrained */
  decoding: z.enum(['copy', 'free']).default('free'),
  firstTokenMs: z.number().nullable(),
  ms: z.number(),
});
export type BookAnswer = z.infer<typeof BookAnswer>;

/** The passages (indexes into the citations) whose text holds the answer; all it was given when none does. */
export function answerSources(answer: Pick<BookAnswer, 'text' | 'citations'>, citations: Array<Pick<Citation, 'text'>>): number[] {
  const holding = answer.citations.filter((i) => answer.text !== '' && citations[i]?.text.includes(answer.text));
  return holding.length > 0 ? holding : answer.citations;
}

export const HistoryEntry = z.object({
  id,
  question: z.string(),
  docIds: z.array(id).nullable(), // null: every book
  citations: z.array(Citation),
  answer: z.object({ merged: z.string().nullable(), answers: z.array(BookAnswer) }).nullable(),
  /** each answering book's sentences, in the order of its best citation (empty before schema 7, or when only passages were asked for) */
  sentences: z.array(AnswerSentence).default([]),
  askedAt: z.string(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** A model file: its id (the first 16 hex digits of its sha256), its name and path, what it is.
 * The reading model is one (core/reading/reader-model.ts, the model worker's 'ready' message). */
export const ModelInfo = z.object({
  id: z.string(),
  name: z.string(),
  file: z.string(),
  arch: z.string(),
  parameters: z.number().int().nonnegative(),
  trained: z.boolean(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** A model version: the default, one fine-tuned from another, or one imported. */
export const ModelVersion = ModelInfo.extend({
  parentId: z.string().nullable(),
  parentName: z.string().nullable(),
  steps: z.number().int().nullable(),
  /** held-out perplexity on its fine-tune's data (per token), before and after */
  perplexityBefore: z.number().nullable(),
  perplexityAfter: z.number().nullable(),
  data: z.array(z.string()), // what it was trained on
  documents: z.number().int().nonnegative(), // documents read into memory by it
  selected: z.boolean(),
  /** the file is in the library's models folder (deleting removes it) */
  owned: z.boolean(),
  missing: z.boolean(), // the file is gone
  addedAt: z.string(),
});
export type ModelVersion = z.infer<typeof ModelVersion>;

/** Which parameters a fine-tune trains: all, the memory's projections and gates only, or the last layer. */
export const Trainable = z.enum(['all', 'memory', 'last']);
export type Trainable = z.infer<typeof Trainable>;

/** The bounds on a fine-tune's options: finetune.start's, the trainer's (core/training/protocol.ts)
 * and the Models view's form. The learning rate is also above 0. */
export const FINE_TUNE_BOUNDS = {
  steps: { min: 1, max: 1_000_000 },
  learningRate: { max: 1 },
  batchSize: { min: 1, max: 64 },
  seqLen: { min: 16, max: 4096 },
  heldOut: { min: 0.02, max: 0.5 },
  evalEvery: { min: 1, max: 100_000 },
} as const;

/** A fine-tune's options (finetune.start takes any of them; the rest are FINE_TUNE_DEFAULTS). */
export const FineTuneOptions = z.object({
  steps: z.number().int().min(FINE_TUNE_BOUNDS.steps.min).max(FINE_TUNE_BOUNDS.steps.max),
  learningRate: z.number().positive().max(FINE_TUNE_BOUNDS.learningRate.max),
  trainable: Trainable,
  batchSize: z.number().int().min(FINE_TUNE_BOUNDS.batchSize.min).max(FINE_TUNE_BOUNDS.batchSize.max),
  seqLen: z.number().int().min(FINE_TUNE_BOUNDS.seqLen.min).max(FINE_TUNE_BOUNDS.seqLen.max),
  /** fraction of every text held out for evaluation (its tail) */
  heldOut: z.number().min(FINE_TUNE_BOUNDS.heldOut.min).max(FINE_TUNE_BOUNDS.heldOut.max),
  evalEvery: z.number().int().min(FINE_TUNE_BOUNDS.evalEvery.min).max(FINE_TUNE_BOUNDS.evalEvery.max),
  seed: z.number().int(),
});
export type FineTuneOptions = z.infer<typeof FineTuneOptions>;

/** The options a fine-tune runs with where finetune.start does not give them. */
export const FINE_TUNE_DEFAULTS: Readonly<FineTuneOptions> = { steps: 200, learningRate: 1e-3, trainable: 'all', batchSize: 2, seqLen: 256, heldOut: 0.1, evalEvery: 25, seed: 1 };

export const FineTuneStatus = z.enum(['running', 'paused', 'done', 'failed', 'cancelled']);
export const FineTunePoint = z.object({ step: z.number().int(), loss: z.number(), evalLoss: z.number().nullable(), lr: z.number(), tokensPerSecond: z.number() });
export type FineTunePoint = z.infer<typeof FineTunePoint>;
export const FineTuneSummary = z.object({
  id,
  name: z.string(),
  baseModelId: z.string(),
  baseModelName: z.string().nullable(),
  status: FineTuneStatus,
  step: z.number().int().nonnegative(),
  steps: z.number().int().positive(),
  options: FineTuneOptions,
  dataset: z.object({ texts: z.number().int(), chars: z.number().int(), sources: z.array(z.string()), skipped: z.array(z.object({ source: z.string(), reason: z.string() })) }),
  heldOutBefore: z.number().nullable(), // nats per token
  heldOutAfter: z.number().nullable(),
  trainTokens: z.number().int().nullable(),
  heldOutTokens: z.number().int().nullable(),
  seconds: z.number().nonnegative(),
  resultModelId: z.string().nullable(),
  error: ErrorInfo.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type FineTuneSummary = z.infer<typeof FineTuneSummary>;
export const FineTuneDetail = FineTuneSummary.extend({ points: z.array(FineTunePoint) });
export type FineTuneDetail = z.infer<typeof FineTuneDetail>;

const uploadId = z.string().regex(/^[a-f0-9]{32}$/);
const MAX_UPLOAD_CHUNK = 4 * 1024 * 1024; // base64 characters per chunk message

/** Requests: name -> params schema and (for typing) result schema. */
export const methods = {
  'app.info': { params: z.object({}).strict(), result: AppInfo },
  'library.list': { params: z.object({}).strict(), result: z.array(DocumentSummary) },
  'library.get': { params: z.object({ id }).strict(), result: DocumentDetail },
  'library.delete': { params: z.object({ id }).strict(), result: z.object({ deleted: z.boolean() }) },
  /** Import files by path on the machine running the core (Electron's open dialog, the CLI). */
  'library.importPath': {
    params: z.object({ path: z.string().min(1).max(4096), jobId: z.string().max(64).optional() }).strict(),
    result: ImportResult,
  },
  /** Upload a file in chunks (browser drag and drop, browser file picker), then import it. */
  'upload.begin': {
    params: z.object({ name: z.string().min(1).max(512), size: z.number().int().nonnegative() }).strict(),
    result: z.object({ uploadId }),
  },
  'upload.chunk': {
    params: z.object({ uploadId, offset: z.number().int().nonnegative(), base64: z.string().max(MAX_UPLOAD_CHUNK) }).strict(),
    result: z.object({ received: z.number().int().nonnegative() }),
  },
  'upload.finish': {
    params: z.object({ uploadId, jobId: z.string().max(64).optional() }).strict(),
    result: ImportResult,
  },
  'upload.abort': { params: z.object({ uploadId }).strict(), result: z.object({}) },
  'doc.blocks': {
    params: z.object({ id, from: z.number().int().nonnegative(), count: z.number().int().min(1).max(64) }).strict(),
    result: z.array(z.object({ index: z.number().int(), start: z.number().int(), text: z.string() })),
  },
  'doc.find': {
    params: z
      .object({
        id,
        query: z.string().min(1).max(1000),
        caseSensitive: z.boolean().default(false),
        limit: z.number().int().min(1).max(10000).default(1000),
      })
      .strict(),
    result: z.object({ matches: z.array(FindMatch), truncated: z.boolean() }),
  },
  /** Read documents into the model's memory (queued, one at a time) or resume them; already read: unchanged. */
  'reading.start': { params: z.object({ id }).strict(), result: ReadingStatus },
  /** Pause a reading (the one running stops at its next step, keeping a checkpoint). */
  'reading.pause': { params: z.object({ id }).strict(), result: z.object({ paused: z.boolean() }) },
  /** Every reading, newest first (all documents, or one). */
  'reading.list': { params: z.object({ id: id.optional() }).strict(), result: z.array(ReadingStatus) },
  /** The passages the memory (or the model) found most surprising, with their positions. */
  'doc.surprising': {
    params: z.object({ id, top: z.number().int().min(1).max(500).default(10), signal: z.enum(['memory', 'model']).default('memory') }).strict(),
    result: z.object({ modelId: z.string(), modelName: z.string(), passages: z.array(SurprisingPassage) }),
  },
  /** Per-token surprise in [start, end) of the text (at most 40,000 characters), for the reader's overlay. */
  'doc.trace': {
    params: z.object({ id, start: z.number().int().nonnegative(), end: z.number().int().nonnegative(), modelId: z.string().max(64).optional() }).strict(),
    result: TokenTrace,
  },
  /** The overlay's columns for [start, end) of the text (at most 40,000 characters): compact, for colouring. */
  'doc.overlay': {
    params: z.object({ id, start: z.number().int().nonnegative(), end: z.number().int().nonnegative(), modelId: z.string().max(64).optional() }).strict(),
    result: OverlayTrace,
  },
  /** Surprise and the memory's gates along the text (or [start, end)), in at most `points` points. */
  'doc.series': {
    params: z
      .object({ id, start: z.number().int().nonnegative().optional(), end: z.number().int().nonnegative().optional(), points: z.number().int().min(1).max(5000).default(1000), modelId: z.string().max(64).optional() })
      .strict(),
    // layers: the memory layers' numbers, in the order of each point's `layers`; readChars: how far the text has been read
    result: z.object({ modelId: z.string(), modelName: z.string(), status: ReadingState, layers: z.array(z.number().int()), readChars: z.number().int(), points: z.array(SeriesPoint) }),
  },
  /** What the memories recall for a cue: its loss under no memory and under each read document's, and what the model writes next. */
  'memory.recall': {
    params: z.object({ cue: z.string().min(1).max(2000), ids: z.array(id).max(50).optional(), next: z.number().int().min(0).max(200).default(40) }).strict(),
    result: RecallResult,
  },
  /** The passages that answer a question, from one book, several, or all (ids absent); notFound when nothing matches.
   * rerank: the model also scores the best candidates with their book's memory loaded (slower; core/ask/retrieve.ts). */
  'ask.retrieve': {
    params: z.object({ question: z.string().min(1).max(2000), ids: z.array(id).max(1000).optional(), top: z.number().int().min(1).max(50).default(5), memory: z.boolean().default(true), rerank: z.boolean().default(false) }).strict(),
    result: z.object({ citations: z.array(Citation), notFound: z.boolean(), usedMemory: z.boolean(), historyId: id }),
  },
  /** Retrieve, then choose the sentences that answer in each book that holds cited passages (at most 3;
   * sentences: each book's best three, rank 0 its answer, with a short answer when confident), then
   * each of those books' model answers; merged: the answers together (null when nothing was found).
   * While it works it streams, as chunks of this call (AskAnswerChunk): the passages found, the
   * sentences, then the pieces of each book's answer as the model writes them.
   * memory: false answers without the books' memories (and ranks without them): the ablation.
   * decoding 'copy' (the default) keeps each answer to words of its passages; 'free' lets the model write anything.
   * modelAnswer: false chooses the sentences only; ablation: the sentences are chosen without one signal
   * (the harness's ablations: the ranker retrained without it). */
  'ask.answer': {
    params: z.object({ question: z.string().min(1).max(2000), ids: z.array(id).max(1000).optional(), top: z.number().int().min(1).max(50).default(5), memory: z.boolean().default(true), rerank: z.boolean().default(false), decoding: z.enum(['copy', 'free']).default('copy'), modelAnswer: z.boolean().default(true), ablation: z.enum(['no-model', 'no-bm25', 'no-passage-rank', 'no-coverage']).optional() }).strict(),
    result: z.object({ citations: z.array(Citation), notFound: z.boolean(), usedMemory: z.boolean(), historyId: id, sentences: z.array(AnswerSentence), answers: z.array(BookAnswer), merged: z.string().nullable(), answerError: z.string().nullable() }),
    chunk: z.discriminatedUnion('kind', [
      /** the passages found (before the sentences and answers, which take longer) */
      z.object({ kind: z.literal('found'), citations: z.array(Citation), usedMemory: z.boolean() }),
      /** the sentences that answer (before the model's own answers) */
      z.object({ kind: z.literal('sentences'), sentences: z.array(AnswerSentence) }),
      /** a piece of one book's answer, as the model writes it */
      z.object({ kind: z.literal('token'), docId: id, text: z.string() }),
    ]),
  },
  /** Questions asked in this library, newest first; with a query, those sharing a word with it. */
  'ask.history': { params: z.object({ query: z.string().max(500).optional(), limit: z.number().int().min(1).max(500).default(50) }).strict(), result: z.array(HistoryEntry) },
  /** Forget a question (or every one, without id). */
  'ask.forget': { params: z.object({ id: id.optional() }).strict(), result: z.object({ forgotten: z.number().int() }) },
  /** Model versions, and the one that reads (fixedBy: set by --model or TITANS_MODEL, not selectable). */
  'models.list': { params: z.object({}).strict(), result: z.object({ models: z.array(ModelVersion), fixedBy: z.string().nullable() }) },
  /** Read with this version from now on (documents read by another are marked, and can be re-read). */
  'models.select': { params: z.object({ id: z.string().max(64) }).strict(), result: z.object({ selectedId: z.string() }) },
  /** Delete a version, its file (when in the library's folder) and every memory it read. */
  'models.delete': { params: z.object({ id: z.string().max(64) }).strict(), result: z.object({ deleted: z.boolean(), documents: z.number().int() }) },
  /** Surprisal of a passage under each version (nats per token). */
  'models.compare': {
    params: z.object({ ids: z.array(z.string().max(64)).min(1).max(4), text: z.string().min(2).max(20_000) }).strict(),
    result: z.object({ tokens: z.number().int(), rows: z.array(z.object({ id: z.string(), name: z.string(), meanSurprisal: z.number(), perplexity: z.number(), surprisal: z.array(z.number()) })) }),
  },
  /** Add a model file as a version: by path (desktop, CLI) or an upload (upload.begin/chunk, not finish); .trd or .safetensors. */
  'models.import': {
    params: z.object({ path: z.string().min(1).max(4096).optional(), uploadId: uploadId.optional() }).strict().refine((p) => (p.path === undefined) !== (p.uploadId === undefined), 'give a path or an uploadId'),
    result: ModelVersion,
  },
  /** A version's file, in chunks (base64): Titans Reader's own format or safetensors. */
  'models.export': {
    params: z.object({ id: z.string().max(64), format: z.enum(['trd', 'safetensors']), offset: z.number().int().nonnegative().default(0) }).strict(),
    result: z.object({ fileName: z.string(), total: z.number().int(), base64: z.string() }),
  },
  /** Fine-tune a version on library documents, files or folders on this machine, or uploaded files (upload.begin/chunk, not finish). */
  'finetune.start': {
    params: z
      .object({
        name: z.string().trim().min(1).max(200),
        baseModelId: z.string().max(64).optional(), // default: the selected version
        docIds: z.array(id).max(10_000).default([]),
        paths: z.array(z.string().min(1).max(4096)).max(1000).default([]),
        uploadIds: z.array(uploadId).max(1000).default([]),
        options: FineTuneOptions.partial().strict().default({}),
      })
      .strict(),
    result: FineTuneSummary,
  },
  'finetune.list': { params: z.object({}).strict(), result: z.array(FineTuneSummary) },
  'finetune.get': { params: z.object({ id }).strict(), result: FineTuneDetail },
  /** Pause (a checkpoint is kept), resume, or cancel (the checkpoint is removed). */
  'finetune.pause': { params: z.object({ id }).strict(), result: FineTuneSummary },
  'finetune.resume': { params: z.object({ id }).strict(), result: FineTuneSummary },
  'finetune.cancel': { params: z.object({ id }).strict(), result: FineTuneSummary },
  'jobs.cancel': { params: z.object({ jobId: z.string().max(64) }).strict(), result: z.object({ cancelled: z.boolean() }) },
  /** Electron only: the native open dialog, for files or (folders: true) folders; returns the chosen paths
   * (empty when cancelled), which the renderer may then name in library.importPath, models.import and finetune.start. */
  'dialog.openFiles': { params: z.object({ folders: z.boolean().default(false) }).strict(), result: z.object({ paths: z.array(z.string()) }) },
} as const;

export type Methods = typeof methods;
export type Method = keyof Methods;
export type Params<M extends Method> = z.input<Methods[M]['params']>;
export type ParsedParams<M extends Method> = z.output<Methods[M]['params']>;
export type Result<M extends Method> = z.output<Methods[M]['result']>;
/** What a streaming method sends while it runs (never for the others). */
export type Chunk<M extends Method> = Methods[M] extends { chunk: infer C extends z.ZodType } ? z.output<C> : never;

/** Events pushed from the core to every connected UI. */
export const events = {
  'job.progress': JobProgress,
  'library.changed': z.object({}),
  /** a fine-tune changed status, or logged a step (point) */
  'finetune.changed': z.object({ id, status: FineTuneStatus, point: FineTunePoint.optional() }),
  'models.changed': z.object({}),
} as const;
export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export const methodNames = Object.keys(methods) as Method[];
export const eventNames = Object.keys(events) as EventName[];

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/** One event as a chunk of 'events.subscribe': its name and its payload, validated together. */
export const EventMessage = z.discriminatedUnion(
  'event',
  eventNames.map((event) => z.object({ event: z.literal(event), payload: events[event] })) as unknown as [z.ZodObject<{ event: z.ZodLiteral<EventName>; payload: z.ZodType }>],
);
export type EventMessage = { [E in EventName]: { event: E; payload: EventPayload<E> } }[EventName];

/**
 * The contract the RPC carries between a UI and the core (core/rpc/api-server.ts, api-client.ts):
 * every method, plus 'events.subscribe', a call that never returns by itself and streams each event
 * the core publishes until it is cancelled or its connection closes.
 */
export const apiContract = {
  ...methods,
  'events.subscribe': { params: z.object({}).strict(), result: z.object({}).strict(), chunk: EventMessage },
} as const;
