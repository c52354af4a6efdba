// The UI's shared state: the library list, running jobs, notices and the current route.
import type { ApiClient } from '../../../core/api/client';
import { RemoteError } from '../../../core/api/client';
import type { DocumentSummary, JobProgress } from '../../../core/api/contract';

export type View = 'library' | 'reader' | 'ask' | 'memory' | 'models';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  title: string;
  message: string;
  hint?: string;
}

export interface JobView extends Omit<JobProgress, 'kind'> {
  kind: JobProgress['kind'] | 'upload';
}

/** Where the reader opens: an offset, or a passage to highlight and the answering sentence in it. */
export interface Target {
  start: number;
  end: number | null;
  answer: { start: number; end: number } | null;
}

class AppState {
  api: ApiClient | null = $state(null);
  docs: DocumentSummary[] = $state([]);
  jobs: JobView[] = $state([]);
  notices: Notice[] = $state([]);
  view: View = $state('library');
  docId: number | null = $state(null);
  /** the model version that reads now (known once a document has a reading, or the Models view loaded) */
  readingModelId: string | null = $state(null);
  /** a passage chosen in the reader to compare model versions on (taken by the Models view) */
  comparePassage: string | null = null;
  /** where the reader should open (#/reader/ID@START, or @START-END for a passage to highlight, then
   * ~S-E for the answering sentence within it), taken once */
  private target: Target | null = null;
  private nextNotice = 1;

  takeTarget(): Target | null {
    const t = this.target;
    this.target = null;
    return t;
  }

  async refresh(): Promise<void> {
    if (!this.api) return;
    this.docs = await this.api.call('library.list', {});
    // Which version reads now marks documents read by another; asking starts the model worker, so
    // only once a document has been read.
    if (this.docs.some((d) => d.reading)) await this.refreshModels();
  }

  async refreshModels(): Promise<void> {
    if (!this.api) return;
    try {
      const { models } = await this.api.call('models.list', {});
      this.readingModelId = models.find((m) => m.selected)?.id ?? null;
    } catch {
      this.readingModelId = null; // no usable model: nothing to mark
    }
  }

  notify(kind: Notice['kind'], title: string, error: unknown): void {
    const n: Notice = { id: this.nextNotice++, kind, title, message: '' };
    if (error instanceof RemoteError) {
      n.message = error.message;
      if (error.hint) n.hint = error.hint;
    } else if (error instanceof Error) n.message = error.message;
    else n.message = String(error);
    this.notices = [...this.notices, n];
    if (kind === 'info') setTimeout(() => this.dismiss(n.id), 6000);
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  updateJob(job: JobView): void {
    const i = this.jobs.findIndex((j) => j.jobId === job.jobId);
    if (i >= 0) this.jobs[i] = job;
    else this.jobs = [...this.jobs, job];
    if (job.state !== 'running') setTimeout(() => this.removeJob(job.jobId), job.state === 'done' ? 1500 : 0);
  }

  removeJob(jobId: string): void {
    this.jobs = this.jobs.filter((j) => j.jobId !== jobId);
  }

  /** Follow the address bar: #/library, #/reader/12, #/ask ... */
  readRoute(): void {
    const [, view, id, at, end, aStart, aEnd] = location.hash.match(/^#\/(\w+)(?:\/(\d+)(?:@(\d+)(?:-(\d+)(?:~(\d+)-(\d+))?)?)?)?/) ?? [];
    this.target = at ? { start: Number(at), end: end ? Number(end) : null, answer: aStart && aEnd ? { start: Number(aStart), end: Number(aEnd) } : null } : null;
    const views: View[] = ['library', 'reader', 'ask', 'memory', 'models'];
    this.view = views.includes(view as View) ? (view as View) : 'library';
    this.docId = id ? Number(id) : this.view === 'reader' ? this.docId : null;
  }

  /** Go to a view; the reader opens a document, at a character offset when given (a passage [at, end)
   * highlighted, and within it the sentence that answers). */
  go(view: View, docId?: number, at?: number, end?: number, answer?: { start: number; end: number }): void {
    const place = at !== undefined ? `@${at}${end !== undefined ? `-${end}${answer ? `~${answer.start}-${answer.end}` : ''}` : ''}` : '';
    const hash = docId !== undefined ? `#/${view}/${docId}${place}` : view === 'reader' && this.docId !== null ? `#/reader/${this.docId}` : `#/${view}`;
    if (location.hash !== hash) location.hash = hash;
    else this.readRoute();
  }
}

export const app = new AppState();
