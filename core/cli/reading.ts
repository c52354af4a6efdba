// Reading documents into memory from a terminal: `import FILE... --read`, `read [ID...]`,
// `status`, and `surprise ID [--top N]`. Progress with tokens/s and ETA; Ctrl+C pauses the
// reading with a checkpoint, and `read` continues it.
import type { ApiClient } from '../api/client.js';
import type { JobProgress, ReadingStatus } from '../api/contract.js';
import type { Core } from '../app.js';
import { formatDuration, table } from './format.js';

export type Out = (s: string) => void;

/** Read the given documents (or resume whatever waits) and return when all are done or paused. */
export async function readAndWait(core: Core, api: ApiClient, ids: number[], out: Out, err: Out): Promise<number> {
  const interactive = process.stderr.isTTY;
  let lastLine = 0;
  const off = api.on('job.progress', (p: JobProgress) => {
    if (p.kind !== 'read') return;
    if (p.state === 'running') {
      if (p.total === 0) return;
      const line = `${p.label}: ${p.done.toLocaleString('en')} of ${p.total.toLocaleString('en')} tokens (${((100 * p.done) / p.total).toFixed(0)}%)${p.ratePerSecond ? `, ${Math.round(p.ratePerSecond).toLocaleString('en')} tokens/s` : ''}${p.etaSeconds !== null ? `, ${formatDuration(p.etaSeconds)} left` : ''}`;
      if (interactive) process.stderr.write(`\r\x1b[K${line}`);
      else if (Date.now() - lastLine > 5000) {
        lastLine = Date.now();
        err(line);
      }
      return;
    }
    if (interactive) process.stderr.write('\r\x1b[K');
    if (p.state === 'done') out(`${p.label.replace(/^Reading/, 'Read')}: done.`);
    else if (p.error) err(`${p.label}: ${p.error.message}${p.error.hint ? ` ${p.error.hint}` : ''}`);
  });
  let failures = 0;
  let closing: Promise<void> | null = null;
  const onSigint = () => {
    if (closing) return;
    err('\nPausing: the memory read so far is kept; run `titans-reader read` to continue.');
    closing = core.reading.close(); // the reading in progress stops after its step, with a checkpoint
  };
  process.on('SIGINT', onSigint);
  try {
    if (ids.length === 0) {
      const waiting = await core.reading.resumeInterrupted();
      if (waiting === 0) out('Nothing to read: every reading is done or paused (give document IDs to start or resume them).');
    }
    for (const id of ids) {
      try {
        const s = await api.call('reading.start', { id });
        if (s.status === 'done') out(`#${id} “${s.title}” is already read into ${s.modelName}.`);
      } catch (e) {
        failures++;
        err(`#${id}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    let onClosed: (() => void) | undefined;
    await Promise.race([core.reading.whenIdle(), new Promise<void>((resolve) => process.once('SIGINT', (onClosed = () => void closing?.then(resolve))))]);
    if (onClosed) process.off('SIGINT', onClosed);
  } finally {
    process.off('SIGINT', onSigint);
    off();
  }
  if (closing) {
    await closing;
    return 130;
  }
  const failed = ids.length > 0 ? (await api.call('reading.list', {})).filter((r) => ids.includes(r.docId) && r.status === 'failed').length : 0;
  return failures + failed === 0 ? 0 : 1;
}

export async function status(api: ApiClient, out: Out): Promise<number> {
  const readings = await api.call('reading.list', {});
  if (readings.length === 0) {
    out('Nothing has been read into memory yet. Start with: titans-reader read ID (or import FILE --read)');
    return 0;
  }
  const pct = (r: ReadingStatus) => (r.tokensTotal ? `${((100 * r.tokensDone) / r.tokensTotal).toFixed(r.status === 'done' ? 0 : 1)}%` : '');
  out(
    table(
      ['ID', 'Title', 'Model', 'Status', 'Tokens', 'Done', 'Tokens/s', 'Time', 'Backend'],
      readings.map((r) => [
        String(r.docId),
        r.title,
        r.modelName,
        r.status,
        `${r.tokensDone.toLocaleString('en')} / ${r.tokensTotal?.toLocaleString('en') ?? '?'}`,
        pct(r),
        r.tokensPerSecond ? Math.round(r.tokensPerSecond).toLocaleString('en') : '',
        formatDuration(r.seconds),
        r.backend ?? '', // what computed the memory (with the WebGPU adapter)
      ]),
    ),
  );
  for (const r of readings.filter((x) => x.error)) out(`#${r.docId}: ${r.error!.message}${r.error!.hint ? ` ${r.error!.hint}` : ''}`);
  return 0;
}

export async function surprise(api: ApiClient, id: number, top: number, signal: 'memory' | 'model', out: Out): Promise<number> {
  const doc = await api.call('library.get', { id });
  const r = await api.call('doc.surprising', { id, top, signal });
  const what = signal === 'memory' ? "the memory's surprise (gradient norm of its loss, mean over the passage)" : "the model's surprisal (nats per token, mean over the passage)";
  out(`The ${r.passages.length} most surprising passages of #${id} “${doc.title}”, by ${what}; model: ${r.modelName}`);
  r.passages.forEach((p, i) => {
    const page = p.page ? (doc.format === 'pdf' ? `page ${p.page.label ?? p.page.number}` : `location ${p.page.label ?? p.page.number}`) : null;
    const place = [page, p.chapter ? `“${p.chapter}”` : null, `line ${p.line}`, `characters ${p.start}-${p.end}`].filter(Boolean).join(', ');
    const snippet = p.text.replace(/\s+/g, ' ').trim();
    out(`\n${i + 1}. score ${p.score.toFixed(4)}: ${place}`);
    out(`   ${snippet.length > 240 ? snippet.slice(0, 239) + '…' : snippet}`);
  });
  return 0;
}
