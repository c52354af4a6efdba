// The library's requests: list, open, delete and import documents (by path or uploaded in
// chunks), and read their text.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import type { Handlers } from '../api/server.js';
import { importFile as importDocument } from '../library/importer.js';
import { deleteDocument, findInDocument, getDetail, listDocuments, readBlocks } from '../library/queries.js';
import type { Services } from './services.js';

export function libraryHandlers(s: Pick<Services, 'db' | 'hub' | 'jobs' | 'reading' | 'uploads' | 'info' | 'autoRead' | 'chosen'>) {
  const { db, hub, jobs, reading, uploads, info } = s;

  const importFile = (file: string, displayName: string, jobId: string | undefined) =>
    jobs.run('import', `Importing ${displayName}`, 'bytes', jobId, async (job) => {
      const result = await importDocument(db, file, {
        displayName,
        signal: job.signal,
        onProgress: (p) => job.progress(p.bytesDone, p.bytesTotal),
      });
      if (!result.duplicate) hub.emit('library.changed', {});
      if (s.autoRead && !result.document.reading) autoRead(result.document.id, result.document.title);
      return result;
    });

  // A failure to start reading (no usable model) must not fail the import: it is reported as a failed job.
  const autoRead = (docId: number, title: string) =>
    reading.start(docId).catch((e: unknown) => {
      const error = ApiError.from(e).toJSON();
      hub.emit('job.progress', { jobId: randomUUID(), kind: 'read', label: `Reading “${title}” into memory`, docId, state: 'failed', done: 0, total: 0, unit: 'tokens', ratePerSecond: null, etaSeconds: null, error });
    });

  return {
    'library.list': () => listDocuments(db),
    'library.get': ({ id }) => getDetail(db, id),
    'library.delete': async ({ id }) => {
      await reading.release(id);
      const deleted = deleteDocument(db, id);
      if (deleted) hub.emit('library.changed', {});
      return { deleted };
    },
    'library.importPath': ({ path: file, jobId }) => {
      if (!info.features.importByPath) throw new ApiError('unavailable', 'Importing by path is not available in the browser; upload the file instead.');
      return importFile(s.chosen(file, 'Add it with “Add files…” or drag it onto the window.'), path.basename(file), jobId);
    },
    'upload.begin': ({ name, size }) => ({ uploadId: uploads.begin(name, size) }),
    'upload.chunk': ({ uploadId, offset, base64 }) => ({ received: uploads.chunk(uploadId, offset, base64) }),
    'upload.finish': ({ uploadId, jobId }) => uploads.finish(uploadId, (file, name) => importFile(file, name, jobId)),
    'upload.abort': ({ uploadId }) => {
      uploads.abort(uploadId);
      return {};
    },
    'doc.blocks': ({ id, from, count }) => readBlocks(db, id, from, count),
    'doc.find': ({ id, query, caseSensitive, limit }) => findInDocument(db, id, query, caseSensitive, limit),
  } satisfies Partial<Handlers>;
}
