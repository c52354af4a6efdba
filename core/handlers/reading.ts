// Reading into memory and what it recorded: start, pause and list readings; the surprising
// passages, the per-token trace, the overlay and the series along the text; the recall probe.
import type { Handlers } from '../api/server.js';
import { listReadings } from '../library/reading-status.js';
import { overlayRange, surpriseSeries, traceRange } from '../reading/inspect.js';
import { surprisingPassages } from '../reading/surprising.js';
import type { Services } from './services.js';

export function readingHandlers({ db, reading }: Pick<Services, 'db' | 'reading'>) {
  return {
    'reading.start': ({ id }) => reading.start(id),
    'reading.pause': ({ id }) => ({ paused: reading.pause(id) }),
    'reading.list': ({ id }) => listReadings(db, id === undefined ? {} : { docId: id }),
    'doc.surprising': ({ id, top, signal }) => surprisingPassages(db, id, top, signal),
    'doc.trace': ({ id, start, end, modelId }) => traceRange(db, id, start, end, modelId),
    'doc.overlay': ({ id, start, end, modelId }) => overlayRange(db, id, start, end, modelId),
    'doc.series': ({ id, start, end, points, modelId }) => surpriseSeries(db, id, { points, ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), ...(modelId ? { modelId } : {}) }),
    'memory.recall': ({ cue, ids, next }) => reading.recall(cue, ids, next),
  } satisfies Partial<Handlers>;
}
