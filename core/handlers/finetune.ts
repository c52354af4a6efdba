// Fine-tuning: start one on library documents, files or folders, or uploads; list, watch,
// pause, resume and cancel.
import { ApiError } from '../api/errors.js';
import type { Handlers } from '../api/server.js';
import type { Services } from './services.js';

export function finetuneHandlers({ finetunes, uploads, info, chosen }: Pick<Services, 'finetunes' | 'uploads' | 'info' | 'chosen'>) {
  return {
    'finetune.start': async ({ name, baseModelId, docIds, paths, uploadIds, options }) => {
      if (paths.length > 0 && !info.features.importByPath) throw new ApiError('unavailable', 'Files by path are not available in the browser; upload them instead.');
      const files: Array<{ file: string; name: string }> = [];
      try {
        const granted = paths.map((p) => chosen(p, 'Choose it with “Choose files…” or “Choose folders…”, or add it with “Add files” or “Add a folder” (uploaded).'));
        for (const u of uploadIds) files.push(uploads.take(u));
        return await finetunes.start({ name, ...(baseModelId ? { baseModelId } : {}), docIds, paths: granted, files, options });
      } finally {
        for (const u of uploadIds) uploads.abort(u);
      }
    },
    'finetune.list': () => finetunes.list(),
    'finetune.get': ({ id }) => finetunes.get(id),
    'finetune.pause': ({ id }) => finetunes.pause(id),
    'finetune.resume': ({ id }) => finetunes.resume(id),
    'finetune.cancel': ({ id }) => finetunes.cancel(id),
  } satisfies Partial<Handlers>;
}
