// The sentence that answers. A model of 0.7M parameters does not write free answers; it can help
// pick out the sentence of a cited passage that holds the answer. Each cited passage is cut into
// sentences (with their offsets in the book, so they can be highlighted); a candidate is one
// sentence or two adjacent ones of the same paragraph, at most MAX_UNIT characters. Each
// candidate gets a handful of features (sentence-level BM25, how much of the question it covers,
// the passage's rank, what the sentences around it cover, cues for the kind of question) and,
// where the book has been read, the model's score with the book's memory loaded. A linear scorer
// learned on the FairytaleQA train split (scripts/fit-sentence-ranker.ts; weights in
// sentence-ranker.json) ranks them: a softmax over each question's candidates.

/** The longest text shown as the answering "sentence" (one or two sentences). */
export const MAX_UNIT = 400;

export interface Piece {
  /** offsets in the text that was split */
  start: number;
  end: number;
  /** paragraph number within that text */
  paragraph: number;
}

// Abbreviations that end with a period but seldom end a sentence.
const ABBREV = new Set('mr mrs ms dr st mt jr sr prof rev gen col capt lt sgt messrs vs etc no vol ch fig p pp cf e.g i.e'.split(' '));

/** Sentences of `text` (offsets into it): ends at . ! ? (with closing quotes or brackets) before an
 * upper-case letter, a digit or an opening quote, and at paragraph breaks (a blank line). A sentence
 * longer than MAX_UNIT is cut at the clause boundary (; : — or a comma) nearest its middle. */
export function splitSentences(text: string): Piece[] {
  const out: Piece[] = [];
  const paragraphs = /\n[ \t]*\n+/g;
  let from = 0;
  let para = 0;
  const addParagraph = (a: number, b: number) => {
    const seg = text.slice(a, b);
    const end = /[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[_]*[\p{Lu}\p{N}])/gu;
    let s = 0;
    for (let m = end.exec(seg); m; m = end.exec(seg)) {
      const stop = m.index + m[0].length;
      const word = /([\p{L}.]+)\.$/u.exec(seg.slice(Math.max(s, m.index - 12), m.index + 1));
      if (m[0] === '.' && word && (ABBREV.has(word[1]!.toLowerCase()) || /^\p{Lu}$/u.test(word[1]!))) continue; // "Mr." "J."
      pushTrimmed(a + s, a + stop, para);
      s = stop;
    }
    pushTrimmed(a + s, b, para);
  };
  const pushTrimmed = (a: number, b: number, p: number) => {
    while (a < b && /\s/.test(text[a]!)) a++;
    while (b > a && /\s/.test(text[b - 1]!)) b--;
    if (b > a && /[\p{L}\p{N}]/u.test(text.slice(a, b))) for (const piece of capLength(text, a, b)) out.push({ ...piece, paragraph: p });
  };
  for (let m = paragraphs.exec(text); m; m = paragraphs.exec(text)) {
    addParagraph(from, m.index);
    from = m.index + m[0].length;
    para++;
  }
  addParagraph(from, text.length);
  return out;
}

/** [a, b) cut into pieces of at most MAX_UNIT characters at clause boundaries (else at a space). */
function capLength(text: string, a: number, b: number): Array<{ start: number; end: number }> {
  if (b - a <= MAX_UNIT) return [{ start: a, end: b }];
  const mid = (a + b) / 2;
  const seg = text.slice(a, b);
  let best = -1;
  for (const re of [/[;:—](?=\s)|--(?=\s)/g, /,(?=\s)/g, /\s/g]) {
    for (let m = re.exec(seg); m; m = re.exec(seg)) {
      const at = a + m.index + m[0].length;
      if (at - a < 40 || b - at < 40) continue;
      if (best < 0 || Math.abs(at - mid) < Math.abs(best - mid)) best = at;
    }
    if (best >= 0 && Math.abs(best - mid) < (b - a) / 4) break;
  }
  if (best < 0) best = Math.round(mid);
  let c = best;
  while (c < b && /\s/.test(text[c]!)) c++;
  return [...capLength(text, a, best), ...capLength(text, c, b)];
}

// --- words ------------------------------------------------------------------------------------

const STOP = new Set(
  "a an the and or but of to in on at by for with from as into onto upon is are was were be been being am it its it's this that these those there here what which who whom whose when where why how did does do doing done has have had having not no nor so if then than too very can could would should shall will may might must i me my mine we us our you your yours he him his she her hers they them their theirs one ones s t 's".split(' '),
);

// Irregular English verbs: the past forms to the present one, so "What did she see?" finds "she saw".
const IRREGULAR = new Map(
  'went:go gone:go saw:see seen:see took:take taken:take gave:give given:give came:come found:find told:tell said:say thought:think ran:run made:make got:get gotten:get knew:know known:know brought:bring began:begin begun:begin ate:eat eaten:eat fell:fall fallen:fall flew:fly flown:fly left:leave felt:feel kept:keep held:hold stood:stand sat:sit lay:lie lain:lie heard:hear met:meet sent:send built:build caught:catch bought:buy fought:fight taught:teach sold:sell won:win wore:wear worn:wear threw:throw thrown:throw grew:grow grown:grow drew:draw drawn:draw drank:drink drunk:drink sang:sing sung:sing swam:swim rode:ride ridden:ride wrote:write written:write spoke:speak spoken:speak broke:break broken:break chose:choose chosen:choose woke:wake stole:steal stolen:steal hid:hide hidden:hide bit:bite bitten:bite shook:shake shaken:shake forgot:forget forgotten:forget lost:lose paid:pay laid:lay slept:sleep swept:sweep wept:weep crept:creep dug:dig hung:hang struck:strike flung:fling sprang:spring sprung:spring drove:drive driven:drive rose:rise risen:rise shone:shine sought:seek understood:understand became:become fed:feed led:lead fled:flee bore:bear born:bear borne:bear tore:tear torn:tear swore:swear sworn:swear froze:freeze frozen:freeze blew:blow blown:blow spun:spin wound:wind sank:sink sunk:sink dealt:deal meant:mean bent:bend lent:lend spent:spend burnt:burn dreamt:dream learnt:learn knelt:kneel leapt:leap slid:slide shot:shoot stuck:stick swung:swing clung:cling sprung:spring overcame:overcome forgave:forgive forgiven:forgive forbade:forbid withdrew:withdraw undertook:undertake mistook:mistake arose:arise awoke:awake beheld:behold men:man women:woman children:child feet:foot teeth:tooth mice:mouse geese:goose oxen:ox wolves:wolf wives:wife knives:knife lives:life leaves:leaf loaves:loaf thieves:thief elves:elf dwarves:dwarf halves:half calves:calf shelves:shelf'
    .split(' ')
    .map((p) => p.split(':') as [string, string]),
);

/** A word without its common English endings (a light stemmer: the same for question and text). */
export function stem(w: string): string {
  let s = w.toLowerCase().replace(/['’]s$/, '').replace(/['’]/g, '');
  s = IRREGULAR.get(s) ?? s;
  if (s.length > 4 && s.endsWith('ies')) s = `${s.slice(0, -3)}y`;
  else if (s.length > 4 && s.endsWith('sses')) s = s.slice(0, -2);
  else if (s.length > 3 && s.endsWith('s') && !s.endsWith('ss') && !s.endsWith('us')) s = s.slice(0, -1);
  if (s.length > 5 && s.endsWith('ing')) s = s.slice(0, -3);
  else if (s.length > 4 && s.endsWith('ed')) s = s.slice(0, -2);
  else if (s.length > 5 && s.endsWith('ly')) s = s.slice(0, -2);
  if (s.length > 3 && s.endsWith('e')) s = s.slice(0, -1);
  if (s.length > 3 && s.at(-1) === s.at(-2) && !/[aeiouls]/.test(s.at(-1)!)) s = s.slice(0, -1); // "stopp(ed)"
  return s;
}

/** All words, lower case (letters, digits, apostrophes inside). */
export function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu) ?? []);
}

/** Content words, stemmed (stop words dropped). */
export function terms(text: string): string[] {
  return wordsOf(text)
    .filter((w) => !STOP.has(w) && w.length > 1)
    .map(stem);
}

// --- features ---------------------------------------------------------------------------------

export interface Candidate {
  /** index of the passage it comes from, among those given */
  passage: number;
  /** offsets within that passage's text */
  start: number;
  end: number;
  /** 1 or 2 sentences */
  sentences: number;
  /** index of its first sentence within the passage */
  first: number;
  text: string;
}

export interface PassageIn {
  text: string;
  /** rank of the passage for this question (1: best) */
  rank: number;
  /** its BM25 relevance (higher is better) */
  bm25: number;
}

/** Candidates of the passages: every sentence, and every two adjacent sentences of one paragraph within MAX_UNIT. */
export function candidatesOf(passages: readonly PassageIn[]): { candidates: Candidate[]; sentences: Piece[][] } {
  const candidates: Candidate[] = [];
  const sentences = passages.map((p) => splitSentences(p.text));
  sentences.forEach((ss, pi) => {
    const text = passages[pi]!.text;
    ss.forEach((s, i) => {
      candidates.push({ passage: pi, start: s.start, end: s.end, sentences: 1, first: i, text: display(text.slice(s.start, s.end)) });
      const t = ss[i + 1];
      if (t && t.paragraph === s.paragraph && t.end - s.start <= MAX_UNIT) candidates.push({ passage: pi, start: s.start, end: t.end, sentences: 2, first: i, text: display(text.slice(s.start, t.end)) });
    });
  });
  return { candidates, sentences };
}

/** Text as shown: line breaks and runs of spaces as one space. */
export const display = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The kind of question, from its first words. */
export function questionKind(q: string): 'who' | 'what' | 'where' | 'when' | 'why' | 'how-feel' | 'how' | 'which' | 'other' {
  const w = wordsOf(q);
  const at = w.findIndex((x) => ['who', 'whom', 'whose', 'what', 'where', 'when', 'why', 'how', 'which'].includes(x));
  const k = at >= 0 ? w[at]! : '';
  if (k === 'how') return w.slice(at, at + 6).some((x) => /^(feel|felt|feeling|react|reacted)$/.test(x)) ? 'how-feel' : 'how';
  if (k === 'whom' || k === 'whose') return 'who';
  return (['who', 'what', 'where', 'when', 'why', 'which'].includes(k) ? k : 'other') as ReturnType<typeof questionKind>;
}

const CUES: Record<string, RegExp> = {
  why: /\b(because|so that|so|for|in order|since|that|wanted|wished|afraid|as)\b/i,
  'how-feel': /\b(felt|feel|glad|happy|sad|sorry|angry|afraid|frightened|fear|joy|delighted|pleased|wept|cried|grief|terrified|surprised|astonished|ashamed|anxious|furious|jealous|proud|merry|overjoyed|rejoiced|distressed|vexed|grieved|unhappy|lonely)\b/i,
  where: /\b(in|at|into|to|on|under|near|behind|beside|inside|across|over|through|towards?|home|house|forest|castle|sea|wood|mountain|cave|palace|garden|village|town)\b/i,
  when: /\b(when|after|before|until|till|night|day|morning|evening|year|years|time|once|soon|then|while)\b/i,
  who: /\b\p{Lu}\p{Ll}+\b/u,
  say: /["“”]|\b(said|says|cried|answered|replied|asked|called|shouted|told)\b/i,
};

export const FEATURES = [
  'bm25',
  'bm25Rel',
  'bm25Rank',
  'coverage',
  'coverageFirst',
  'coverageLast',
  'termsMatched',
  'bigrams',
  'prevCoverage',
  'nextCoverage',
  'passageRank',
  'passageBm25Rel',
  'pair',
  'chars',
  'novel',
  'firstInParagraph',
  'cue',
  'quote',
  'ordered',
  'proximity',
  'grams',
  'prevBm25Rel',
  'nextBm25Rel',
  'bestInPassage',
  'rarestMatched',
  'namesMatched',
  'localPeak',
] as const;
export type FeatureName = (typeof FEATURES)[number];
/** A candidate's features by name (the lexical ones of FEATURES; the second stage adds 'lexical' and 'model'). */
export type Features = Record<string, number>;

const BM25_K1 = 1.2;
const BM25_B = 0.75;

/**
 * Features of every candidate. `idf(term)` is the term's inverse document frequency in the book
 * (or books); `model` (optional) is the model's score per candidate (higher: more likely), missing
 * for those it did not score.
 */
export function featurize(question: string, passages: readonly PassageIn[], idf: (term: string) => number): { candidates: Array<Candidate & { features: Features }>; sentences: Piece[][] } {
  const { candidates, sentences } = candidatesOf(passages);
  const qTerms = [...new Set(terms(question))];
  const qWeights = new Map(qTerms.map((t) => [t, Math.max(0.05, idf(t))]));
  const qTotal = qTerms.reduce((a, t) => a + qWeights.get(t)!, 0) || 1;
  const qSeq = terms(question);
  const qBigrams = new Set(qSeq.slice(1).map((t, i) => `${qSeq[i]} ${t}`));
  const kind = questionKind(question);
  const cue = CUES[kind === 'what' && /\b(say|said|tell|told|ask|asked|answer|reply|replied|call|called|shout|shouted)\b/i.test(question) ? 'say' : kind] ?? null;
  const sentenceTerms = sentences.map((ss, pi) => ss.map((s) => terms(passages[pi]!.text.slice(s.start, s.end))));
  const coverage = (ts: readonly string[]) => {
    const have = new Set(ts);
    let c = 0;
    for (const t of qTerms) if (have.has(t)) c += qWeights.get(t)!;
    return c / qTotal;
  };
  const unitTerms = candidates.map((c) => sentenceTerms[c.passage]!.slice(c.first, c.first + c.sentences).flat());
  const avgLen = unitTerms.reduce((a, t) => a + t.length, 0) / Math.max(1, unitTerms.length) || 1;
  const bm25 = unitTerms.map((ts) => bm25Of(ts, qTerms, qWeights, avgLen));
  const maxBm25 = Math.max(1e-9, ...bm25);
  const order = bm25.map((b, i) => ({ b, i })).sort((x, y) => y.b - x.b);
  const bm25Rank = new Array<number>(bm25.length);
  order.forEach((o, r) => (bm25Rank[o.i] = r + 1));
  const maxPassageBm25 = Math.max(1e-9, ...passages.map((p) => p.bm25));
  // sentence-level BM25 of each sentence alone (for the neighbours' features)
  const sentenceBm25 = sentenceTerms.map((ss) => ss.map((ts) => bm25Of(ts, qTerms, qWeights, avgLen)));
  const maxSentenceBm25 = Math.max(1e-9, ...sentenceBm25.flat());
  const bestInPassage = sentenceBm25.map((ss) => Math.max(0, ...ss));
  const qGrams = charGrams(qTerms);
  const maxIdf = Math.max(1e-9, ...qTerms.map((t) => qWeights.get(t)!));
  // the question's names: capitalized words not at its start (stemmed as terms are)
  const names = new Set(
    (question.match(/(?<=\S\s+)\p{Lu}[\p{L}'’-]*/gu) ?? []).flatMap((w) => terms(w)).filter((t) => qWeights.has(t)),
  );
  return {
    sentences,
    candidates: candidates.map((c, i) => {
      const st = sentenceTerms[c.passage]!;
      const ts = unitTerms[i]!;
      const qs = new Set(qTerms);
      const firstSentence = sentences[c.passage]![c.first]!;
      const prev = sentences[c.passage]![c.first - 1];
      const cov = coverage(ts);
      const prevCov = c.first > 0 ? coverage(st[c.first - 1]!) : 0;
      const nextCov = st[c.first + c.sentences] ? coverage(st[c.first + c.sentences]!) : 0;
      const matched = qTerms.filter((t) => ts.includes(t));
      const features: Features = {
        bm25: bm25[i]!,
        bm25Rel: bm25[i]! / maxBm25,
        bm25Rank: 1 / bm25Rank[i]!,
        coverage: cov,
        coverageFirst: coverage(st[c.first]!),
        coverageLast: coverage(st[c.first + c.sentences - 1]!),
        termsMatched: Math.log1p(matched.length),
        bigrams: qBigrams.size ? ts.slice(1).filter((t, j) => qBigrams.has(`${ts[j]} ${t}`)).length / qBigrams.size : 0,
        prevCoverage: prevCov,
        nextCoverage: nextCov,
        passageRank: 1 / passages[c.passage]!.rank,
        passageBm25Rel: passages[c.passage]!.bm25 / maxPassageBm25,
        pair: c.sentences === 2 ? 1 : 0,
        chars: Math.log(Math.max(10, c.text.length)),
        novel: Math.log1p(ts.filter((t) => !qs.has(t)).length),
        firstInParagraph: !prev || prev.paragraph !== firstSentence.paragraph ? 1 : 0,
        cue: cue && cue.test(c.text) ? 1 : 0,
        quote: /["“”]/.test(c.text) ? 1 : 0,
        ordered: qSeq.length ? lcsLength(qSeq, ts) / qSeq.length : 0,
        proximity: proximity(ts, qs),
        grams: qGrams.size ? overlap(qGrams, charGrams(ts)) : 0,
        prevBm25Rel: c.first > 0 ? sentenceBm25[c.passage]![c.first - 1]! / maxSentenceBm25 : 0,
        nextBm25Rel: (sentenceBm25[c.passage]![c.first + c.sentences] ?? 0) / maxSentenceBm25,
        bestInPassage: bestInPassage[c.passage]! / maxSentenceBm25,
        rarestMatched: Math.max(0, ...matched.map((t) => qWeights.get(t)!)) / maxIdf,
        namesMatched: names.size ? [...names].filter((t) => ts.includes(t)).length / names.size : 0,
        localPeak: cov - Math.max(prevCov, nextCov),
      };
      return { ...c, features };
    }),
  };
}

function bm25Of(ts: readonly string[], qTerms: readonly string[], qWeights: Map<string, number>, avgLen: number): number {
  const tf = new Map<string, number>();
  for (const t of ts) tf.set(t, (tf.get(t) ?? 0) + 1);
  let s = 0;
  for (const t of qTerms) {
    const f = tf.get(t);
    if (f) s += qWeights.get(t)! * ((f * (BM25_K1 + 1)) / (f + BM25_K1 * (1 - BM25_B + (BM25_B * ts.length) / avgLen)));
  }
  return s;
}

/** Length of the longest common subsequence of two token lists (also the answer metric's, core/ask/fairytaleqa.ts). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Array<number>(b.length + 1).fill(0);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/** 1 / (1 + the shortest run of the text's terms holding every question term it has, minus their count): 1 when they are together. */
function proximity(ts: readonly string[], qs: ReadonlySet<string>): number {
  const want = new Set(ts.filter((t) => qs.has(t)));
  if (want.size < 2) return want.size ? 0.5 : 0;
  let best = Infinity;
  const seen = new Map<string, number>();
  let lo = 0;
  for (let hi = 0; hi < ts.length; hi++) {
    if (want.has(ts[hi]!)) seen.set(ts[hi]!, (seen.get(ts[hi]!) ?? 0) + 1);
    while (seen.size === want.size) {
      best = Math.min(best, hi - lo + 1);
      const t = ts[lo++]!;
      if (want.has(t)) {
        const n = seen.get(t)! - 1;
        if (n === 0) seen.delete(t);
        else seen.set(t, n);
      }
    }
  }
  return 1 / (1 + best - want.size);
}

/** Character 4-grams of the words (within words): overlap that survives other endings and compounds. */
function charGrams(ts: readonly string[]): Set<string> {
  const g = new Set<string>();
  for (const t of ts) {
    if (t.length < 4) g.add(t);
    else for (let i = 0; i + 4 <= t.length; i++) g.add(t.slice(i, i + 4));
  }
  return g;
}

const overlap = (a: ReadonlySet<string>, b: ReadonlySet<string>) => {
  let n = 0;
  for (const x of a) if (b.has(x)) n++;
  return n / a.size;
};

// --- the learned scorer -----------------------------------------------------------------------

export interface RankerWeights {
  /** the features it uses, in order; standardized with mean and std before the weights apply */
  features: string[];
  mean: number[];
  std: number[];
  weights: number[];
  /** per question kind, added to the weights (interactions), when present */
  kindWeights?: Record<string, number[]>;
  /**
   * A small nonlinear term added to the linear score, when present: sum_h out[h] tanh(b[h] +
   * W[h] . [standardized features, one-hot of the question kind in `kinds` order]).
   */
  mlp?: { kinds: string[]; W: number[][]; b: number[]; out: number[] };
  /** Platt scaling of the top candidate's softmax probability (logit) to P(it answers), fit on val */
  calibration?: { a: number; b: number };
  /** the short answer: shown when its calibrated confidence is at least this (chosen on val) */
  spanThreshold?: number;
  spanWeights?: SpanWeights;
  /** P(short answer right) = sigmoid(a logit(sentence confidence) + b logit(span probability) + c), fit on val */
  spanCalibration?: { a: number; b: number; c: number };
  /** the first stage retrained without a signal (the harness's ablations) */
  ablations?: Record<string, RankerWeights>;
  meta?: Record<string, unknown>;
}

export function scoreOf(w: RankerWeights, features: Features, kind: string): number {
  const extra = w.kindWeights?.[kind];
  const xs = w.features.map((f, j) => ((features[f] ?? w.mean[j]!) - w.mean[j]!) / (w.std[j] || 1));
  let s = 0;
  xs.forEach((x, j) => (s += x * (w.weights[j]! + (extra?.[j] ?? 0))));
  if (w.mlp) {
    const k = w.mlp.kinds.indexOf(kind);
    w.mlp.W.forEach((row, h) => {
      let a = w.mlp!.b[h]! + (k >= 0 ? row[xs.length + k]! : 0);
      xs.forEach((x, j) => (a += row[j]! * x));
      s += w.mlp!.out[h]! * Math.tanh(a);
    });
  }
  return s;
}

/** The candidates ranked by the learned scorer (best first), each with its softmax probability within the question. */
export function rankCandidates<C extends { features: Features }>(w: RankerWeights, question: string, candidates: readonly C[]): Array<C & { score: number; p: number }> {
  const kind = questionKind(question);
  const scored = candidates.map((c) => ({ ...c, score: scoreOf(w, c.features, kind) }));
  const max = Math.max(...scored.map((c) => c.score));
  const z = scored.reduce((a, c) => a + Math.exp(c.score - max), 0);
  return scored.map((c) => ({ ...c, p: Math.exp(c.score - max) / z })).sort((a, b) => b.score - a.score);
}

/** Calibrated probability that the top candidate answers, from its softmax probability. */
export function calibrated(w: RankerWeights, p: number): number {
  if (!w.calibration) return p;
  const x = Math.log(Math.max(1e-6, p) / Math.max(1e-6, 1 - p));
  return 1 / (1 + Math.exp(-(w.calibration.a * x + w.calibration.b)));
}

/** The best `k` candidates that do not overlap one another (a pair and its own sentences count once). */
export function distinctTop<C extends Pick<Candidate, 'passage' | 'start' | 'end'>>(ranked: readonly C[], k: number): C[] {
  const out: C[] = [];
  for (const c of ranked) {
    if (out.length >= k) break;
    if (out.some((o) => o.passage === c.passage && o.start < c.end && c.start < o.end)) continue;
    out.push(c);
  }
  return out;
}

// --- the short answer -------------------------------------------------------------------------

export interface SpanWeights {
  features: string[];
  mean: number[];
  std: number[];
  weights: number[];
}

export interface SpanCandidate {
  /** offsets within the sentence's text */
  start: number;
  end: number;
  text: string;
  features: Record<string, number>;
}

const SPAN_MAX_WORDS = 16;

/** Spans of the sentence that may be the short answer: runs of 1..SPAN_MAX_WORDS words within one
 * clause (not across ; : . ! ? brackets or quotes; commas may be inside), not starting or ending on
 * a stop word, with features: where the question's words are around it, its length, its edges. */
export function spanCandidates(question: string, sentence: string): SpanCandidate[] {
  const qs = new Set(terms(question));
  const kind = questionKind(question);
  const ws: Array<{ start: number; end: number; w: string; t: string; clause: number; comma: boolean; stop: boolean; inQ: boolean }> = [];
  const re = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;
  let clause = 0;
  let last = 0;
  for (let m = re.exec(sentence); m; m = re.exec(sentence)) {
    const gap = sentence.slice(last, m.index);
    if (/[;:.!?"“”()—]/.test(gap)) clause++;
    last = m.index + m[0].length;
    const w = m[0].toLowerCase();
    const t = stem(w);
    ws.push({ start: m.index, end: last, w, t, clause, comma: gap.includes(','), stop: STOP.has(w), inQ: !STOP.has(w) && qs.has(t) });
  }
  const qPositions = ws.map((x, i) => (x.inQ ? i : -1)).filter((i) => i >= 0);
  const out: SpanCandidate[] = [];
  for (let i = 0; i < ws.length; i++) {
    if (ws[i]!.stop && !/^\d/.test(ws[i]!.w)) continue;
    for (let j = i; j < Math.min(ws.length, i + SPAN_MAX_WORDS); j++) {
      if (ws[j]!.clause !== ws[i]!.clause) break;
      if (ws[j]!.stop) continue;
      const inside = ws.slice(i, j + 1);
      const n = inside.length;
      const inQ = inside.filter((x) => x.inQ).length;
      const dist = qPositions.length ? Math.min(...qPositions.map((p) => (p < i ? i - p : p > j ? p - j : 0))) : 10;
      const before = qPositions.filter((p) => p < i).length;
      const after = qPositions.filter((p) => p > j).length;
      const clauseHasQ = ws.some((x) => x.clause === ws[i]!.clause && x.inQ && (x.start < ws[i]!.start || x.start > ws[j]!.start));
      const left = qPositions.filter((p) => p < i).at(-1);
      const right = qPositions.find((p) => p > j);
      const leftGap = left === undefined ? 1 : Math.min(i - left - 1, 10) / 10;
      const rightGap = right === undefined ? 1 : Math.min(right - j - 1, 10) / 10;
      const commas = inside.slice(1).filter((x) => x.comma).length;
      const afterComma = ws[i]!.comma || (i > 0 && ws[i - 1]!.stop && ws[i - 1]!.comma) ? 1 : 0;
      const beforeComma = j + 1 < ws.length && ws[j + 1]!.comma ? 1 : 0;
      // a span that stops before a comma, a period or the end of the sentence ends a phrase
      const nextChar = sentence.slice(ws[j]!.end).trimStart()[0] ?? '.';
      // reach out to a leading article: "a well-to-do farmer"
      const lead = i > 0 && /^(a|an|the|his|her|their|its|my|your|our|some)$/.test(ws[i - 1]!.w) && ws[i - 1]!.clause === ws[i]!.clause ? ws[i - 1]!.start : ws[i]!.start;
      out.push({
        start: lead,
        end: ws[j]!.end,
        text: sentence.slice(lead, ws[j]!.end),
        features: {
          words: n,
          logWords: Math.log(n),
          qFraction: inQ / n,
          anyQ: inQ > 0 ? 1 : 0,
          dist: Math.min(dist, 10) / 10,
          adjacent: dist === 1 ? 1 : 0,
          qBefore: before > 0 ? 1 : 0,
          qAfter: after > 0 ? 1 : 0,
          clauseHasQ: clauseHasQ ? 1 : 0,
          wholeClause: (i === 0 || ws[i - 1]!.clause !== ws[i]!.clause || ws[i - 1]!.stop) && (j === ws.length - 1 || ws[j + 1]!.clause !== ws[j]!.clause) ? 1 : 0,
          endsPhrase: /[,;:.!?"”)]/.test(nextChar) ? 1 : 0,
          capitalized: /^\p{Lu}/u.test(sentence.slice(ws[i]!.start)) && i > 0 ? 1 : 0,
          number: inside.some((x) => /^\d/.test(x.w)) ? 1 : 0,
          startsSentence: i === 0 ? 1 : 0,
          position: ws.length > 1 ? i / (ws.length - 1) : 0,
          leftGap,
          rightGap,
          leftAdjacent: left !== undefined && leftGap < 0.25 ? 1 : 0,
          rightAdjacent: right !== undefined && rightGap < 0.25 ? 1 : 0,
          commas: Math.min(commas, 4),
          afterComma,
          beforeComma,
          [`kind:${kind}`]: 1,
          [`kind:${kind}:leftGap`]: leftGap,
          [`kind:${kind}:rightGap`]: rightGap,
          [`kind:${kind}:qFraction`]: inQ / n,
          [`kind:${kind}:commas`]: Math.min(commas, 4),
          [`kind:${kind}:logWords`]: Math.log(n),
          [`kind:${kind}:qBefore`]: before > 0 ? 1 : 0,
          [`kind:${kind}:capitalized`]: /^\p{Lu}/u.test(sentence.slice(ws[i]!.start)) && i > 0 ? 1 : 0,
          [`kind:${kind}:cue`]: (CUES[kind] ?? /$^/).test(sentence.slice(lead, ws[j]!.end)) ? 1 : 0,
        },
      });
    }
  }
  return out;
}

export function spanScore(w: SpanWeights, f: Record<string, number>): number {
  let s = 0;
  w.features.forEach((name, j) => {
    const x = ((f[name] ?? 0) - w.mean[j]!) / (w.std[j] || 1);
    s += x * w.weights[j]!;
  });
  return s;
}

/** The best short answer in the sentence and its probability (a softmax over the sentence's spans), or null. */
export function bestSpan(w: SpanWeights, question: string, sentence: string): { start: number; end: number; text: string; p: number } | null {
  const spans = spanCandidates(question, sentence).map((c) => ({ ...c, s: spanScore(w, c.features) }));
  if (spans.length === 0) return null;
  const max = Math.max(...spans.map((c) => c.s));
  const z = spans.reduce((a, c) => a + Math.exp(c.s - max), 0);
  const best = spans.find((c) => c.s === max)!;
  return { start: best.start, end: best.end, text: best.text, p: 1 / z };
}
