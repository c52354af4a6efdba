// BookMemories (core/reading/book-memory.ts) on a real library with two books read by a real tiny
// model: one question (recall, rerank, an answer from each book) decodes each book's memory once,
// a lent state is never freed under its user, a changed memory is decoded again, and nothing leaks.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerFromBook } from '../../../core/ask/answer-from-book.js';
import { openDatabase, type Db } from '../../../core/library/database.js';
import { importFile } from '../../../core/library/importer.js';
import { BookMemories, memoryFromBytes } from '../../../core/reading/book-memory.js';
import { readDocument } from '../../../core/reading/read-document.js';
import { loadReaderModel, type LoadedReaderModel } from '../../../core/reading/reader-model.js';
import { recall } from '../../../core/reading/recall.js';
import { scorePassages } from '../../../core/ask/score-passages.js';
import { memoryBytes } from '../../../core/library/memories.js';
import { disposeModelState, type ModelState } from '../../../models/model/model.js';
import { stateTensors } from '../../../models/model/state.js';
import { writeTinyReaderModel } from '../../fixtures/reader-model.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';
import { useBackend } from '../../helpers/models.js';

let dir: string;
let db: Db;
let m: LoadedReaderModel;
const books: number[] = [];

beforeAll(async () => {
  await useBackend('wasm');
  dir = tempDir('titans-memories-');
  db = openDatabase(path.join(dir, 'library.sqlite'));
  m = loadReaderModel(db, dir, await writeTinyReaderModel(dir));
  for (const seed of [1, 2]) {
    const docId = (await importFile(db, writeFile(dir, `book${seed}.txt`, makeBook({ chapters: 1, paragraphsPerChapter: 3, seed, title: `Book ${seed}` })))).document.id;
    await readDocument({ db, docId, modelId: m.info.id, model: m.model, tokenizer: m.tokenizer, backend: 'wasm', stepTokens: 64 });
    books.push(docId);
  }
}, 120_000);
afterAll(() => {
  m.model.dispose();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const disposed = (s: ModelState) => stateTensors(s).some((t) => t.isDisposed);

describe('BookMemories', () => {
  it('one question (recall, rerank, answers from both books) decodes each book once, and the next none', async () => {
    const tensors = tf.memory().numTensors;
    const memories = new BookMemories(db, m.info.id);
    const question = 'Who kept the lamp?';
    const ask = async () => {
      await recall(db, m.model, m.tokenizer, m.info, memories, question, undefined, 0);
      const passages = books.flatMap((docId) => [{ docId, text: 'The keeper kept the lamp.' }, { docId, text: 'Rain fell.' }]);
      await scorePassages(m.model, m.tokenizer, memories, { question, passages, useMemory: true });
      for (const docId of books) {
        const a = await answerFromBook(m.model, m.tokenizer, memories, { docId, question, context: 'The keeper kept the lamp.', maxTokens: 4, useMemory: true, decoding: 'copy' }, () => {});
        expect(a.usedMemory).toBe(true);
      }
    };
    await ask();
    expect(memories.loads).toBe(2);
    await ask();
    expect(memories.loads).toBe(2);
    memories.clear();
    expect(tf.memory().numTensors).toBe(tensors); // nothing left behind in the long-lived worker
  });

  it('lends the stored state, keeps it past its use, and decodes a changed memory again', async () => {
    const memories = new BookMemories(db, m.info.id);
    const docId = books[0]!;
    let first: ModelState | null = null;
    await memories.use(docId, async (s) => {
      first = s;
    });
    const expected = memoryFromBytes(memoryBytes(db, docId, m.info.id))!;
    expect(first).not.toBeNull();
    const a = stateTensors(first!).map((t) => Array.from(t.dataSync()));
    expect(a).toEqual(stateTensors(expected).map((t) => Array.from(t.dataSync())));
    disposeModelState(expected);
    expect(disposed(first!)).toBe(false); // still held for the next call
    // the library's memory changes (a book read again): the next use decodes it, the old state goes
    db.prepare(`UPDATE memory_states SET created_at = '2099-01-01T00:00:00.000Z' WHERE doc_id = ?`).run(docId);
    await memories.use(docId, async (s) => expect(s).not.toBe(first));
    expect(memories.loads).toBe(2);
    expect(disposed(first!)).toBe(true);
    // useMemory false and an unread book lend no state, and decode nothing
    await memories.use(docId, async (s) => expect(s).toBeNull(), false);
    await memories.use(999, async (s) => expect(s).toBeNull());
    expect(memories.loads).toBe(2);
    memories.clear();
  });

  it('evicts the least recently used beyond its limit, but never a state still in use', async () => {
    const memories = new BookMemories(db, m.info.id, 1);
    let held: ModelState | null = null;
    await memories.use(books[0]!, async (s0) => {
      held = s0;
      await memories.use(books[1]!, async (s1) => {
        expect(memories.size).toBe(1); // the first was evicted...
        expect(disposed(s0!)).toBe(false); // ...but its user still has it
        expect(disposed(s1!)).toBe(false);
      });
    });
    expect(disposed(held!)).toBe(true); // freed once its user was done
    await memories.use(books[0]!, async (s) => expect(s).not.toBeNull());
    expect(memories.loads).toBe(3);
    memories.clear();
  });
});
