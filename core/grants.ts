// The paths the user chose while the app runs: what the desktop renderer may ask the core to read.
// A renderer is a web page; if it were ever compromised (a malicious document that escapes the
// sanitizer, say) it must not be able to name ~/.ssh/id_rsa and read it back through an import.
// So in the desktop app a path from the renderer is accepted only when the user picked it: in the
// native open dialog (the core records what the dialog returns) or by dropping it on the window
// (the preload reports the dropped files' paths, see electron/ipc.ts). A folder the user picked
// covers the files under it. Grants live in memory for the life of the core; nothing is stored.
// The CLI is not asked: the user typed the path.
import path from 'node:path';
import { ApiError } from './api/errors.js';

export class PathGrants {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();

  /** The user picked these files (or dropped them). */
  grantFiles(paths: readonly string[]): void {
    for (const p of paths) if (path.isAbsolute(p)) this.files.add(path.resolve(p));
  }

  /** The user picked these folders: every path under them is granted too. */
  grantFolders(paths: readonly string[]): void {
    for (const p of paths) if (path.isAbsolute(p)) this.folders.add(path.resolve(p));
  }

  /** Whether the user chose this path (a file picked or dropped, or a path under a folder picked). */
  allows(p: string): boolean {
    if (!path.isAbsolute(p)) return false;
    const resolved = path.resolve(p); // "..", "." and doubled separators cannot walk out of a grant
    if (this.files.has(resolved) || this.folders.has(resolved)) return true;
    for (const folder of this.folders) {
      const rel = path.relative(folder, resolved);
      if (rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel)) return true;
    }
    return false;
  }

  /** The path, resolved, if the user chose it; else a refusal that says what to do instead. */
  check(p: string, hint: string): string {
    if (this.allows(p)) return path.resolve(p);
    throw new ApiError('unauthorized', `Titans Reader reads only files you chose: ${p} was not picked in the open dialog or dropped on the window.`, hint);
  }
}
