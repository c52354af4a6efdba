// Model versions: list, select the one that reads, delete, compare on a passage, import, export.
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import type { Handlers } from '../api/server.js';
import { scoreText } from '../training/score.js';
import { deleteModel, exportChunk, importModel, listModels, modelRow, setSelectedModel } from '../training/versions.js';
import type { Services } from './services.js';

export function modelHandlers(s: Pick<Services, 'db' | 'hub' | 'reading' | 'uploads' | 'info' | 'dataDir' | 'backend' | 'fixedBy' | 'chosen'>) {
  const { db, hub, reading, uploads, dataDir, backend, fixedBy } = s;
  const readingModelId = () => reading.model().then((m) => m.model.id, () => null);
  return {
    'models.list': async () => ({ models: listModels(db, dataDir, await readingModelId()), fixedBy }),
    'models.select': async ({ id }) => {
      if (fixedBy) throw new ApiError('conflict', `The reading model is set by ${fixedBy}.`, 'Start the app without it to choose a model here.');
      const row = modelRow(db, id);
      if (!fs.existsSync(row.file)) throw new ApiError('not_found', `The file of “${row.name}” is gone (${row.file}).`, 'Delete this version, or put the file back.');
      setSelectedModel(db, id);
      await reading.switchModel(row.file);
      hub.emit('models.changed', {});
      hub.emit('library.changed', {});
      return { selectedId: id };
    },
    'models.delete': async ({ id }) => {
      const r = deleteModel(db, dataDir, id, await readingModelId());
      hub.emit('models.changed', {});
      hub.emit('library.changed', {});
      return r;
    },
    'models.compare': async ({ ids, text }) => {
      const rows = ids.map((id) => modelRow(db, id));
      const scored = await scoreText(rows.map((r) => r.file), text, backend);
      return { tokens: scored.tokens, rows: scored.models.map((m, i) => ({ id: rows[i]!.id, name: rows[i]!.name, meanSurprisal: m.meanSurprisal, perplexity: Math.exp(m.meanSurprisal), surprisal: m.surprisal })) };
    },
    'models.import': async ({ path: file, uploadId }) => {
      if (file && !s.info.features.importByPath) throw new ApiError('unavailable', 'Files by path are not available in the browser; upload the model instead.');
      const source = file ? { file: s.chosen(file, 'Import it with “Import a model” in the Models view (it is uploaded).'), name: path.basename(file) } : uploads.take(uploadId!);
      try {
        const id = await importModel(db, dataDir, source.file, source.name, (f) => scoreText([f], 'Titans', backend));
        hub.emit('models.changed', {});
        return listModels(db, dataDir, await readingModelId()).find((m) => m.id === id)!;
      } finally {
        if (uploadId) uploads.abort(uploadId);
      }
    },
    'models.export': ({ id, format, offset }) => exportChunk(db, id, format, offset),
  } satisfies Partial<Handlers>;
}
