// The command line: the same core as the app, in-process.
//   titans-reader import FILE... [--read]   read [ID...]   status   surprise ID [--top N]
//   list   show ID [--text]   where   train ...   [--data DIR] [--model FILE] [--backend NAME]
import path from 'node:path';
import type { ApiClient } from '../api/client.js';
import { RemoteError } from '../api/client.js';
import type { JobProgress } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import { createInProcessClient } from '../api/in-process.js';
import { createCore } from '../app.js';
import { dataDirFromArgs, resolveDataDir } from '../paths.js';
import { formatBytes, formatDuration, table } from './format.js';
import { ask } from './ask.js';
import { readAndWait, status, surprise } from './reading.js';

const USAGE = `Usage: titans-reader <command> [options]

Commands:
  import FILE... [--read]   add documents (PDF, EPUB, DOCX, HTML, Markdown, text); --read also
                            reads them into the model's memory
  read [ID...]              read documents into memory, or resume them; without IDs, resume
                            every reading that was queued or interrupted (Ctrl+C pauses)
  status                    the readings: progress, speed, model, errors
  surprise ID [--top N] [--signal memory|model]
                            the passages the memory (or the model) found most surprising
  ask "QUESTION" [--books ID,ID] [--top N] [--passages] [--rerank]
                            the model's answer from each book (its memory loaded), then the
                            passages it rests on, cited with their places (--passages: those only;
                            --rerank: the model also scores the passages, with each book's memory)
  list                      list the documents in the library
  show ID [--text]          show a document's details and chapters (and its text)
  where                     print where the library lives
  train FILE... --out MODEL train a Titans model on text files (see: train --help)
  finetune FILE|FOLDER... [--docs ID,ID] --name NAME [--steps N --lr X --train all|memory|last]
                            fine-tune the reading model on your files; a new version results
                            (finetune list | finetune resume ID | finetune cancel ID)
  models [select ID | delete ID | compare ID ID --text T]
                            model versions: list, choose the one that reads, delete, compare
  model export MODEL.trd OUT.safetensors | model import IN.safetensors OUT.trd
                            models in and out of safetensors (to train elsewhere, use here)

Options:
  --data DIR         the library's folder (default: $TITANS_READER_DATA, else your user data folder)
  --model FILE       the model that reads (default: $TITANS_MODEL, else the library's default model)
  --backend NAME     webgpu, node-gpu, node, wasm or cpu (default: $TITANS_BACKEND, else the fastest that works)
  -h, --help         show this help`;

/** `--name VALUE` or `--name=VALUE`, removed from args. */
function takeOption(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && args[i + 1] !== undefined) return args.splice(i, 2)[1];
    if (args[i]!.startsWith(`${name}=`)) return args.splice(i, 1)[0]!.slice(name.length + 1);
  }
  return undefined;
}

export async function run(argv: string[], out: (s: string) => void = console.log, err: (s: string) => void = console.error): Promise<number> {
  const dataFlag = dataDirFromArgs(argv);
  const args = argv.filter((a, i) => !(a === '--data' || a.startsWith('--data=') || argv[i - 1] === '--data'));
  const [command, ...rest] = args;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    out(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'model') {
    const { modelCommand } = await import('./model.js'); // loads TensorFlow.js only when needed
    return modelCommand(rest, out, err);
  }
  if (command === 'train') {
    const { trainCommand, TRAIN_USAGE } = await import('./train.js'); // loads TensorFlow.js only when needed
    if (rest.includes('--help')) {
      out(TRAIN_USAGE);
      return 0;
    }
    return trainCommand(rest, out, err);
  }
  if (!['import', 'read', 'status', 'surprise', 'ask', 'list', 'show', 'where', 'finetune', 'models'].includes(command)) {
    err(`Unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  const modelFile = takeOption(rest, '--model');
  const backend = takeOption(rest, '--backend');
  const core = createCore({ dataDir: resolveDataDir(dataFlag), transport: 'in-process', reading: { ...(modelFile ? { modelFile } : {}), ...(backend ? { backend } : {}) } });
  try {
    const api = createInProcessClient(core.server);
    switch (command) {
      case 'import': {
        const read = rest.includes('--read');
        const files = rest.filter((a) => a !== '--read');
        const imported: number[] = [];
        const code = await importFiles(api, files, out, err, imported);
        if (!read || imported.length === 0) return code;
        return Math.max(code, await readAndWait(core, api, imported, out, err));
      }
      case 'read': {
        const ids = rest.map(Number);
        if (ids.some((id) => !Number.isInteger(id) || id <= 0)) {
          err('read: give document IDs (see: titans-reader list), or none to resume what waits.');
          return 2;
        }
        return await readAndWait(core, api, ids, out, err);
      }
      case 'status':
        return await status(api, out);
      case 'ask': {
        const books = takeOption(rest, '--books');
        const flag = (name: string) => rest.includes(name) && rest.splice(rest.indexOf(name), 1).length > 0;
        const passagesOnly = flag('--passages');
        const rerank = flag('--rerank');
        const top = Number(takeOption(rest, '--top') ?? 5);
        const question = rest.join(' ').trim();
        const ids = books ? books.split(',').map(Number) : undefined;
        if (!question || !Number.isInteger(top) || top < 1 || ids?.some((id) => !Number.isInteger(id) || id <= 0)) {
          err('ask: give a question, optionally --books ID,ID and --top N.');
          return 2;
        }
        try {
          return await ask(api, { question, ids, top, answer: !passagesOnly, rerank }, out);
        } catch (e) {
          err(describeError(e));
          return 1;
        }
      }
      case 'surprise': {
        const id = Number(rest[0]);
        const top = Number(takeOption(rest, '--top') ?? 10);
        const signal = takeOption(rest, '--signal') ?? 'memory';
        if (!Number.isInteger(id) || id <= 0 || !Number.isInteger(top) || top < 1 || (signal !== 'memory' && signal !== 'model')) {
          err('surprise: give a document ID, optionally --top N and --signal memory|model.');
          return 2;
        }
        try {
          return await surprise(api, id, top, signal, out);
        } catch (e) {
          err(describeError(e));
          return 1;
        }
      }
      case 'finetune':
      case 'models': {
        const { finetuneCommand, modelsCommand } = await import('./finetune.js');
        try {
          return command === 'finetune' ? await finetuneCommand(core, api, rest, out, err) : await modelsCommand(api, rest, out, err);
        } catch (e) {
          err(describeError(e));
          return 1;
        }
      }
      case 'list':
        return await list(api, out);
      case 'show':
        return await show(api, rest, out, err);
      default:
        out(core.info.databasePath);
        return 0;
    }
  } finally {
    await core.close();
  }
}

async function importFiles(api: ApiClient, files: string[], out: (s: string) => void, err: (s: string) => void, imported: number[] = []): Promise<number> {
  if (files.length === 0) {
    err('import: name at least one file.');
    return 2;
  }
  const interactive = process.stderr.isTTY;
  const off = api.on('job.progress', (p: JobProgress) => {
    if (p.state !== 'running' || !interactive || p.total === 0) return;
    const pct = ((100 * p.done) / p.total).toFixed(0);
    const eta = p.etaSeconds === null ? '' : `, ${formatDuration(p.etaSeconds)} left`;
    process.stderr.write(`\r${p.label}: ${pct}% of ${formatBytes(p.total)}${eta}   `);
  });
  let failures = 0;
  for (const file of files) {
    try {
      const { document: d, duplicate } = await api.call('library.importPath', { path: path.resolve(file) });
      imported.push(d.id);
      if (interactive) process.stderr.write('\r\x1b[K');
      out(duplicate ? `${file}: already in the library as #${d.id} "${d.title}"` : `${file}: imported as #${d.id} "${d.title}" (${d.format}, ${d.chars.toLocaleString('en')} characters, ${d.chapters} chapter${d.chapters === 1 ? "" : "s"}${d.pages > 0 ? `, ${d.pages} ${d.format === 'pdf' ? 'pages' : 'locations'}` : ''}${d.format === 'text' || d.format === 'markdown' ? `, ${d.encoding}` : ''})`);
    } catch (e) {
      if (interactive) process.stderr.write('\r\x1b[K');
      failures++;
      err(`${file}: ${describeError(e)}`);
    }
  }
  off();
  return failures === 0 ? 0 : 1;
}

async function list(api: ApiClient, out: (s: string) => void): Promise<number> {
  const docs = await api.call('library.list', {});
  if (docs.length === 0) {
    out('The library is empty. Add a file with: titans-reader import FILE');
    return 0;
  }
  out(table(['ID', 'Title', 'Author', 'Format', 'Characters', 'Chapters', 'Imported'], docs.map((d) => [String(d.id), d.title, d.author ?? '', d.format, d.chars.toLocaleString('en'), String(d.chapters), d.importedAt.slice(0, 16).replace('T', ' ')])));
  return 0;
}

async function show(api: ApiClient, rest: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const id = Number(rest[0]);
  if (!Number.isInteger(id) || id <= 0) {
    err('show: give a document ID (see: titans-reader list).');
    return 2;
  }
  try {
    const d = await api.call('library.get', { id });
    out(`#${d.id} ${d.title}${d.author ? ` by ${d.author}` : ''}`);
    out(`File: ${d.fileName} (${formatBytes(d.fileSize)}, ${d.format}, ${d.encoding})`);
    if (d.pages > 0) out(`${d.format === 'pdf' ? 'Pages' : 'Locations'}: ${d.pages.toLocaleString('en')}`);
    if (d.reading) out(`Memory: ${d.reading.status} (${d.reading.tokensDone.toLocaleString('en')} of ${d.reading.tokensTotal?.toLocaleString('en') ?? '?'} tokens, ${d.reading.modelName})`);
    out(`Text: ${d.chars.toLocaleString('en')} characters, ${d.lines.toLocaleString('en')} lines, imported ${d.importedAt}`);
    if (d.chapterList.length > 0) {
      out('Chapters:');
      for (const c of d.chapterList) out(`  ${'  '.repeat(c.level - 1)}${c.title}  (line ${c.line})`);
    }
    if (rest.includes('--text')) {
      for (let from = 0; from < d.blocks.length; from += 64) {
        for (const b of await api.call('doc.blocks', { id, from, count: 64 })) process.stdout.write(b.text);
      }
    }
    return 0;
  } catch (e) {
    err(describeError(e));
    return 1;
  }
}

function describeError(e: unknown): string {
  if (e instanceof RemoteError || e instanceof ApiError) return e.hint ? `${e.message} ${e.hint}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

const isMain = process.argv[1] !== undefined && /titans-reader(\.mjs)?$|cli[/\\]main\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(describeError(e));
      process.exit(1);
    },
  );
}
