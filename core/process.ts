// Facts about other processes of the app (an import, a reading or a fine-tune left by a crashed
// process). A process is known by its id plus its start time: ids are reused, so an id alone can
// name an unrelated process that started later (or this very process, after a restart).
import fs from 'node:fs';

/**
 * When a process started, as an opaque number that is the same for the process's whole life and
 * differs for a later process with the same id; null where it cannot be known.
 * Linux: field 22 of /proc/<pid>/stat (clock ticks after boot). Elsewhere null: liveness then falls
 * back to the process id alone (a reused id reads as alive, the old, conservative behaviour).
 */
export function processStartTime(pid: number): number | null {
  return procStat(pid)?.start ?? null;
}

/** This process's start time (see processStartTime), recorded with process.pid. */
export const PROCESS_START: number | null = processStartTime(process.pid);

/**
 * Whether the process recorded as (pid, start) still runs. A different start time (the id was
 * reused) or a zombie counts as gone; EPERM means it exists but belongs to someone else.
 * Without a recorded start time (rows written before it was recorded, or a platform without one)
 * the id alone decides.
 */
export function isAlive(pid: number, start: number | null = null): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false; // 0 and negatives name process groups
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (!stat) return true; // no /proc: the id alone
  if (stat.state === 'Z' || stat.state === 'X') return false; // killed, not yet reaped
  return start === null || stat.start === start;
}

function procStat(pid: number): { state: string; start: number } | null {
  if (process.platform !== 'linux' || !Number.isSafeInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]); // field 22 overall: fields[0] is field 3 (state)
  return fields[0] && Number.isSafeInteger(start) ? { state: fields[0], start } : null;
}
