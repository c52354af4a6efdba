// `titans-reader finetune PATH... [--docs ID,ID] --name NAME [options]`, `finetune list`,
// `finetune resume ID`, and `models [select|delete|compare] ...`: fine-tuning and model versions
// from a terminal, through the same core API as the app. Ctrl+C pauses the fine-tune (its
// checkpoint is kept); `finetune resume ID` continues it.
import fs from 'node:fs';
import type { ApiClient } from '../api/client.js';
import type { FineTuneSummary, Trainable } from '../api/contract.js';
import type { Core } from '../app.js';
import { formatDuration, table } from './format.js';
import type { Out } from './reading.js';

export const FINETUNE_USAGE = `Usage: titans-reader finetune FILE|FOLDER... [--docs ID,ID] --name NAME [options]
       titans-reader finetune list | finetune resume ID | finetune cancel ID
       titans-reader models | models select ID | models delete ID | models compare ID ID (--text T | --file F)

Options (fine-tune):
  --docs ID,ID    library documents to train on (with or instead of files and folders)
  --base ID       the version to start from (default: the one that reads)
  --steps N       training steps (default 200)
  --lr X          peak learning rate (default 1e-3)
  --train PART    all (default), memory (the memory's projections and gates) or last (the last layer)
  --batch B --seq T   batch size and tokens per window (default 2, 256)`;

const opt = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};

const ppl = (nats: number | null) => (nats === null ? '–' : Math.exp(nats).toFixed(2));

function line(f: FineTuneSummary): string {
  return `#${f.id} “${f.name}”: ${f.status}, step ${f.step} of ${f.steps}, held-out perplexity ${ppl(f.heldOutBefore)} → ${ppl(f.heldOutAfter)}`;
}

/** Watch the running fine-tune until it ends; Ctrl+C pauses it. */
async function follow(core: Core, api: ApiClient, id: number, out: Out, err: Out): Promise<number> {
  const onSigint = () => {
    err('\nPausing after this step; `titans-reader finetune resume ' + id + '` continues it.');
    void api.call('finetune.pause', { id });
  };
  process.once('SIGINT', onSigint);
  let last = 0;
  const off = api.on('finetune.changed', (e) => {
    if (e.id !== id || !e.point || Date.now() - last < 2000) return;
    last = Date.now();
    const p = e.point;
    out(`step ${p.step}: loss ${p.loss.toFixed(3)}${p.evalLoss !== null ? `, held-out ${p.evalLoss.toFixed(3)} (perplexity ${Math.exp(p.evalLoss).toFixed(2)})` : ''}, ${Math.round(p.tokensPerSecond)} tokens/s`);
  });
  try {
    await core.finetunes.whenIdle();
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
  const f = await api.call('finetune.get', { id });
  out(line(f));
  if (f.status === 'done') out(`New model version ${f.resultModelId} (select it with: titans-reader models select ${f.resultModelId}).`);
  if (f.error) err(`${f.error.message}${f.error.hint ? ` ${f.error.hint}` : ''}`);
  return f.status === 'done' ? 0 : f.status === 'paused' ? 130 : 1;
}

export async function finetuneCommand(core: Core, api: ApiClient, args: string[], out: Out, err: Out): Promise<number> {
  if (args[0] === 'list') {
    const all = await api.call('finetune.list', {});
    out(all.length ? all.map(line).join('\n') : 'No fine-tunes yet.');
    return 0;
  }
  if (args[0] === 'resume' || args[0] === 'cancel') {
    const id = Number(args[1]);
    if (!Number.isInteger(id) || id <= 0) {
      err(FINETUNE_USAGE);
      return 2;
    }
    if (args[0] === 'cancel') {
      out(line(await api.call('finetune.cancel', { id })));
      return 0;
    }
    const f = await api.call('finetune.resume', { id });
    out(`Resuming ${line(f)}`);
    return follow(core, api, id, out, err);
  }
  const name = opt(args, 'name');
  const docs = opt(args, 'docs');
  const num = (n: string) => {
    const v = opt(args, n);
    return v === undefined ? undefined : Number(v);
  };
  const options = { steps: num('steps'), learningRate: num('lr'), batchSize: num('batch'), seqLen: num('seq'), trainable: opt(args, 'train') as Trainable | undefined };
  const base = opt(args, 'base');
  const docIds = docs ? docs.split(',').map(Number) : [];
  if (!name || (args.length === 0 && docIds.length === 0)) {
    err(FINETUNE_USAGE);
    return 2;
  }
  const f = await api.call('finetune.start', {
    name,
    paths: args,
    docIds,
    ...(base ? { baseModelId: base } : {}),
    options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  });
  out(`Fine-tuning “${f.name}” from ${f.baseModelName ?? f.baseModelId} on ${f.dataset.texts} text${f.dataset.texts === 1 ? '' : 's'} (${f.dataset.chars.toLocaleString('en')} characters), ${f.steps} steps.`);
  for (const s of f.dataset.skipped) err(`Skipped ${s.source}: ${s.reason}`);
  return follow(core, api, f.id, out, err);
}

export async function modelsCommand(api: ApiClient, args: string[], out: Out, err: Out): Promise<number> {
  const [what, a, b] = args;
  if (!what || what === 'list') {
    const { models, fixedBy } = await api.call('models.list', {});
    out(
      table(
        ['', 'ID', 'NAME', 'PARENT', 'PARAMS', 'STEPS', 'PERPLEXITY', 'READ'],
        models.map((m) => [m.selected ? '*' : '', m.id, m.name + (m.missing ? ' (file missing)' : ''), m.parentName ?? '', `${(m.parameters / 1e6).toFixed(2)}M`, m.steps === null ? '' : String(m.steps), m.perplexityAfter === null ? '' : `${m.perplexityBefore?.toFixed(2)} → ${m.perplexityAfter.toFixed(2)}`, String(m.documents)]),
      ),
    );
    if (fixedBy) out(`(the reading model is set by ${fixedBy})`);
    return 0;
  }
  if (what === 'select' && a) {
    await api.call('models.select', { id: a });
    out(`Documents are now read with ${a}. Those read by another version can be re-read: titans-reader read ID.`);
    return 0;
  }
  if (what === 'delete' && a) {
    const r = await api.call('models.delete', { id: a });
    out(`Deleted ${a} and the memories of ${r.documents} document${r.documents === 1 ? '' : 's'} it had read.`);
    return 0;
  }
  if (what === 'compare' && a && b) {
    const rest = args.slice(3);
    const text = opt(rest, 'text') ?? (() => {
      const f = opt(rest, 'file');
      return f ? fs.readFileSync(f, 'utf8').slice(0, 20_000) : undefined;
    })();
    if (!text) {
      err('models compare: give the passage with --text "..." or --file FILE.');
      return 2;
    }
    const r = await api.call('models.compare', { ids: [a, b], text });
    out(table(['MODEL', 'SURPRISAL (nats/token)', 'PERPLEXITY'], r.rows.map((x) => [x.name, x.meanSurprisal.toFixed(3), x.perplexity.toFixed(2)])));
    return 0;
  }
  err(FINETUNE_USAGE);
  return 2;
}

