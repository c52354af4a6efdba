// The harness's answering run: every sample becomes a document in a fresh library, is read into
// the model's memory, and its question is asked through the same API the app uses (ask.answer:
// retrieval, then the model answers with the book's memory loaded). Exact match of the answer's
// first word, retrieval recall@k from the cited passages, first-token latency and time per question.
import fs from 'node:fs';
import path from 'node:path';
import { createInProcessClient } from '../core/api/in-process.js';
import { createCore } from '../core/app.js';
import { recallAt, type Sample } from '../core/ask/eval.js';
import { exactMatch } from '../core/ask/prompt.js';

export interface AnswerResult {
  task: string;
  length: number;
  depth: number;
  recall: Record<number, boolean>;
  correct: boolean;
  answer: string;
  expected: string;
  firstTokenMs: number | null;
  /** answering, from the question to the last token (retrieval included) */
  ms: number;
  /** reading the sample into memory */
  readSeconds: number;
  tokens: number;
}

export interface AnswerRun {
  model: { id: string; name: string; parameters: number; trained: boolean };
  backend: string;
  results: AnswerResult[];
}

export async function evaluateAnswers(samples: Sample[], ks: number[], o: { workDir: string; modelFile?: string; backend?: string; memory?: boolean; decoding?: 'copy' | 'free'; rerank?: boolean; onResult?: (r: AnswerResult, i: number) => void }): Promise<AnswerRun> {
  const core = createCore({ dataDir: path.join(o.workDir, 'library'), transport: 'in-process', reading: { ...(o.modelFile ? { modelFile: o.modelFile } : {}), ...(o.backend ? { backend: o.backend } : {}) } });
  const api = createInProcessClient(core.server);
  try {
    const { model, backend } = await core.reading.model();
    const results: AnswerResult[] = [];
    for (const [i, s] of samples.entries()) {
      const file = path.join(o.workDir, `${s.task}-${i}.txt`);
      fs.writeFileSync(file, s.text);
      const { document } = await api.call('library.importPath', { path: file });
      fs.rmSync(file);
      const useMemory = o.memory ?? true;
      let reading: { seconds: number; tokensTotal: number | null } = { seconds: 0, tokensTotal: 0 };
      if (useMemory) {
        await api.call('reading.start', { id: document.id });
        await core.reading.whenIdle();
        const [status] = await api.call('reading.list', { id: document.id });
        if (status?.status !== 'done') throw new Error(`sample ${i} was not read: ${status?.error?.message ?? status?.status}`);
        reading = status;
      }
      const t0 = performance.now();
      const r = await api.call('ask.answer', { question: s.question, ids: [document.id], top: Math.max(...ks), memory: useMemory, decoding: o.decoding ?? 'copy', rerank: o.rerank ?? false });
      const ms = performance.now() - t0;
      const recall = recallAt(s, r.citations, ks);
      const answer = r.merged ?? '';
      const result: AnswerResult = { task: s.task, length: s.length, depth: s.depth, recall, correct: exactMatch(answer, s.answer), answer, expected: s.answer, firstTokenMs: r.answers[0]?.firstTokenMs ?? null, ms, readSeconds: reading.seconds, tokens: reading.tokensTotal ?? 0 };
      results.push(result);
      o.onResult?.(result, i);
      await api.call('library.delete', { id: document.id }); // keep the library small
    }
    return { model: { id: model.id, name: model.name, parameters: model.parameters, trained: model.trained }, backend, results };
  } finally {
    await core.close();
  }
}

const median = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Per task and length: accuracy (exact match), recall@k, median first-token latency, mean time per question, reading speed. */
export function summarizeAnswers(results: AnswerResult[], ks: number[]) {
  const keys = [...new Set(results.map((r) => `${r.task}\u0000${r.length}`))];
  return keys.map((key) => {
    const [task, length] = key.split('\u0000') as [string, string];
    const rs = results.filter((r) => r.task === task && r.length === Number(length));
    const recall: Record<number, number> = {};
    for (const k of ks) recall[k] = rs.filter((r) => r.recall[k]).length / rs.length;
    return {
      task,
      length: Number(length),
      n: rs.length,
      accuracy: rs.filter((r) => r.correct).length / rs.length,
      recall,
      firstTokenMs: median(rs.map((r) => r.firstTokenMs).filter((x): x is number => x !== null)),
      msPerQuestion: rs.reduce((a, r) => a + r.ms, 0) / rs.length,
      readTokensPerSecond: rs.reduce((a, r) => a + r.tokens, 0) / Math.max(1e-9, rs.reduce((a, r) => a + r.readSeconds, 0)),
    };
  });
}
