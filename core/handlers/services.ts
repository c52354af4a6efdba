// What the request handlers work with: the library, the event hub, the jobs, the reading queue,
// the fine-tunes, the uploads, and what the app was started with. core/app.ts builds them and
// gives each service's handlers (core/handlers/*.ts) the part it needs.
import type { AppInfo } from '../api/contract.js';
import type { EventHub } from '../api/events.js';
import type { PathGrants } from '../grants.js';
import type { JobRegistry } from '../jobs/jobs.js';
import type { Db } from '../library/database.js';
import type { Uploads } from '../library/uploads.js';
import type { ReadingQueue } from '../reading/queue.js';
import type { FineTunes } from '../training/finetunes.js';

export interface Services {
  db: Db;
  hub: EventHub;
  jobs: JobRegistry;
  reading: ReadingQueue;
  finetunes: FineTunes;
  uploads: Uploads;
  info: AppInfo;
  dataDir: string;
  /** a TensorFlow.js backend to force (--backend, TITANS_BACKEND) */
  backend: string | undefined;
  /** what fixes the reading model ('the --model option', 'TITANS_MODEL'); null: the version chosen in the app */
  fixedBy: string | null;
  /** queue every newly imported document for reading into memory */
  autoRead: boolean;
  /** What the user chose while the app runs (core/grants.ts). */
  grants: PathGrants;
  /** A path a request names: in the desktop app, only one the user chose (else an error with `hint`); elsewhere, resolved. */
  chosen(file: string, hint: string): string;
  /** The Electron shell's native open dialog; elsewhere there is none. */
  openFilesDialog: ((opts: { folders: boolean }) => Promise<string[]>) | undefined;
}
