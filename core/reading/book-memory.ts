// A book's neural memory as a model left it: the state after the whole book, else the last
// checkpoint of a reading in progress (stored in SQLite as checkpoint bytes).
//
// BookMemories keeps the decoded states in the model worker, so a question decodes each book's
// memory at most once (issue 18): recall, the rerank and the answers all take it from here, and
// the next question about the same books decodes nothing. A state is shared: callers borrow it
// (`use`) and never dispose it; one that changed in the library is decoded again; the least
// recently used are freed beyond `maxStates`, once nobody is using them.
import { decodeCheckpoint } from '../../models/checkpoint/format.js';
import { stateFromCheckpoint } from '../../models/model/io.js';
import { disposeModelState, type ModelState } from '../../models/model/model.js';
import type { Db } from '../library/database.js';
import { memoryBytes, memoryVersion } from '../library/memories.js';

/** A stored state's bytes as a model state (null stays null). */
export function memoryFromBytes(bytes: Buffer | null): ModelState | null {
  return bytes ? stateFromCheckpoint(decodeCheckpoint(bytes)) : null;
}

interface Entry {
  version: string;
  state: ModelState;
  users: number;
  stale: boolean; // replaced or evicted while in use: freed when the last user is done
}

export class BookMemories {
  private readonly entries = new Map<number, Entry>(); // docId -> entry, least recently used first
  /** memories decoded from the library since this was made (what the cache saves shows here) */
  loads = 0;

  constructor(
    private readonly db: Db,
    private readonly modelId: string,
    /** decoded states kept (a d256 model's linear memory is ~1 MB a book) */
    private readonly maxStates = 32,
  ) {}

  /** Runs f with the book's memory (null: not read yet, or useMemory false); the state is lent, not given. */
  async use<T>(docId: number, f: (state: ModelState | null) => Promise<T>, useMemory = true): Promise<T> {
    const entry = useMemory ? this.acquire(docId) : null;
    try {
      return await f(entry?.state ?? null);
    } finally {
      if (entry) this.release(entry);
    }
  }

  private acquire(docId: number): Entry | null {
    const version = memoryVersion(this.db, docId, this.modelId);
    let entry = this.entries.get(docId);
    if (entry && entry.version !== version) {
      this.drop(docId, entry);
      entry = undefined;
    }
    if (!entry) {
      if (version === null) return null;
      const state = memoryFromBytes(memoryBytes(this.db, docId, this.modelId));
      if (!state) return null;
      this.loads++;
      entry = { version, state, users: 0, stale: false };
    }
    this.entries.delete(docId); // re-inserted last: the most recently used
    this.entries.set(docId, entry);
    entry.users++;
    this.evict();
    return entry;
  }

  private release(entry: Entry): void {
    entry.users--;
    if (entry.stale && entry.users === 0) disposeModelState(entry.state);
  }

  private drop(docId: number, entry: Entry): void {
    this.entries.delete(docId);
    entry.stale = true;
    if (entry.users === 0) disposeModelState(entry.state);
  }

  private evict(): void {
    for (const [docId, entry] of this.entries) {
      if (this.entries.size <= this.maxStates) break;
      this.drop(docId, entry);
    }
  }

  /** decoded states held now */
  get size(): number {
    return this.entries.size;
  }

  /** frees every state (those in use, when their users are done) */
  clear(): void {
    for (const [docId, entry] of [...this.entries]) this.drop(docId, entry);
  }
}
