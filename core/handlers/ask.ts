// Asking: the passages and answers for a question (core/ask/ask.ts), and the history of questions.
import type { Handlers } from '../api/server.js';
import { answerQuestion, retrieveAnswers } from '../ask/ask.js';
import { ftsQuery } from '../ask/retrieve.js';
import { forget, history } from '../library/questions.js';
import type { Services } from './services.js';

export function askHandlers({ db, reading }: Pick<Services, 'db' | 'reading'>) {
  const deps = { db, reading };
  return {
    'ask.retrieve': (params) => retrieveAnswers(deps, params),
    'ask.answer': (params, { emit }) => answerQuestion(deps, params, emit),
    'ask.history': ({ query, limit }) => {
      const match = query ? ftsQuery(query) : null;
      return query && !match ? [] : history(db, match, limit); // words too common to search for match nothing
    },
    'ask.forget': ({ id }) => ({ forgotten: forget(db, id) }),
  } satisfies Partial<Handlers>;
}
