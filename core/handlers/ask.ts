// Asking: the passages and answers for a question (core/ask/ask.ts), and the history of questions.
import type { Handlers } from '../api/server.js';
import { answerQuestion, retrieveAnswers } from '../ask/ask.js';
import { forget, history } from '../ask/history.js';
import type { Services } from './services.js';

export function askHandlers({ db, reading }: Pick<Services, 'db' | 'reading'>) {
  const deps = { db, reading };
  return {
    'ask.retrieve': (params) => retrieveAnswers(deps, params),
    'ask.answer': (params, { emit }) => answerQuestion(deps, params, emit),
    'ask.history': ({ query, limit }) => history(db, query, limit),
    'ask.forget': ({ id }) => ({ forgotten: forget(db, id) }),
  } satisfies Partial<Handlers>;
}
