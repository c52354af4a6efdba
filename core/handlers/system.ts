// The app itself: what it is (app.info), cancelling a job, and the desktop app's open dialog.
import { ApiError } from '../api/errors.js';
import type { Handlers } from '../api/server.js';
import type { Services } from './services.js';

export function systemHandlers({ info, jobs, grants, openFilesDialog }: Pick<Services, 'info' | 'jobs' | 'grants' | 'openFilesDialog'>) {
  return {
    'app.info': () => info,
    'jobs.cancel': ({ jobId }) => ({ cancelled: jobs.cancel(jobId) }),
    'dialog.openFiles': async ({ folders }) => {
      if (!openFilesDialog) throw new ApiError('unavailable', 'There is no native file dialog here; use the file picker or drag and drop.');
      const paths = await openFilesDialog({ folders });
      if (folders) grants.grantFolders(paths);
      else grants.grantFiles(paths);
      return { paths };
    },
  } satisfies Partial<Handlers>;
}
