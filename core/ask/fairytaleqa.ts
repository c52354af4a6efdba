// FairytaleQA (Xu et al. 2022) as the harness reads it: a folder with stories/SPLIT/NAME-story.csv
// (section,text) and questions/SPLIT/NAME-questions.csv (question, explicit or implicit, up to six
// gold answers from two annotators). Also the two measures of issue 16:
//  - a shown sentence answers when a gold answer's words appear in it in order, covering at least
//    80% of the answer's words (LCS >= 0.8 x the answer's length; plain containment included),
//    after normalizing both: lower case, only letters, digits and apostrophes, one space;
//  - ROUGE-L F1 of a short answer against the gold answers (the best one).
import fs from 'node:fs';
import path from 'node:path';
import { lcsLength } from './sentences.js';

/** RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}

/** CSV rows as objects keyed by the header row. */
function records(file: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), r[i] ?? ''])));
}

export interface FtqaQuestion {
  id: string;
  question: string;
  /** the first annotator's label (the dataset's own split of explicit and implicit questions) */
  explicit: boolean;
  /** the section the question was written about (1-based; not shown to the system) */
  section: number;
  answers: string[];
}

export interface FtqaStory {
  name: string;
  title: string;
  /** the story as the app imports it: its title, then its sections' paragraphs */
  text: string;
  questions: FtqaQuestion[];
}

const titleOf = (name: string) => {
  const t = name.replace(/-/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
};

/** The stories of a split (sorted by name) with their questions; stories without a questions file are skipped. */
export function loadFairytaleQA(dataDir: string, split: string): FtqaStory[] {
  const storyDir = path.join(dataDir, 'stories', split);
  const questionDir = path.join(dataDir, 'questions', split);
  if (!fs.existsSync(storyDir)) throw new Error(`${storyDir} does not exist: give a folder laid out like ../shared/data/qa/fairytaleqa (stories/SPLIT/*.csv, questions/SPLIT/*.csv) with --data, and a split with --split.`);
  const out: FtqaStory[] = [];
  for (const file of fs.readdirSync(storyDir).filter((f) => f.endsWith('-story.csv')).sort()) {
    const name = file.replace(/-story\.csv$/, '');
    const qFile = path.join(questionDir, `${name}-questions.csv`);
    if (!fs.existsSync(qFile)) continue;
    const sections = records(path.join(storyDir, file)).map((r) => r.text!.replace(/\r\n?/g, '\n').trim()).filter(Boolean);
    const title = titleOf(name);
    const questions = records(qFile).flatMap((r): FtqaQuestion[] => {
      const question = (r.question ?? '').trim();
      const answers = ['answer1', 'answer2', 'answer3', 'answer4', 'answer5', 'answer6'].map((k) => (r[k] ?? '').trim()).filter((a) => normalizeForMatch(a) !== '');
      return question && answers.length ? [{ id: r.question_id ?? '', question, explicit: (r['ex-or-im1'] ?? '').trim() === 'explicit', section: Number(r.cor_section?.split(',')[0]) || 0, answers }] : [];
    });
    out.push({ name, title, text: `${title}\n\n${sections.join('\n\n')}\n`, questions });
  }
  return out;
}

/** Lower case, only letters, digits and apostrophes, whitespace collapsed. */
export function normalizeForMatch(s: string): string {
  return s
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}']+/gu, ' ')
    .trim();
}

const tokens = (s: string) => {
  const n = normalizeForMatch(s);
  return n ? n.split(' ') : [];
};

export { lcsLength };

/** The sentence answers: some gold answer's words appear in it in order, at least 80% of them. */
export function sentenceAnswers(sentence: string, answers: readonly string[]): boolean {
  const s = tokens(sentence);
  return answers.some((a) => {
    const t = tokens(a);
    return t.length > 0 && lcsLength(t, s) >= 0.8 * t.length;
  });
}

/** ROUGE-L F1 (beta 1) of a candidate against the best of the references, on normalized words. */
export function rougeL(candidate: string, references: readonly string[]): number {
  const c = tokens(candidate);
  let best = 0;
  for (const r of references) {
    const t = tokens(r);
    const l = lcsLength(c, t);
    if (l === 0) continue;
    const p = l / c.length;
    const q = l / t.length;
    best = Math.max(best, (2 * p * q) / (p + q));
  }
  return best;
}
