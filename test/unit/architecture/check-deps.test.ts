// The dependency check (scripts/check-deps.ts, docs/architecture-rules.md) on small trees written
// here, one broken rule each, and on the repository itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDeps, formatViolation, readImports, type Rule } from '../../../scripts/check-deps.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const TSCONFIG = JSON.stringify({ compilerOptions: { lib: ['ES2023'], types: ['node'] }, include: ['core/**/*.ts', 'models/**/*.ts'] });

/** A tree that keeps every rule: each layer, the renderer on the browser-safe core modules only. */
const CLEAN: Record<string, string> = {
  'tsconfig.json': TSCONFIG,
  'models/util/random.ts': `export const seed = 1;\n`,
  'models/memory/memory.ts': `import { seed } from '../util/random.js';\nimport * as tf from '@tensorflow/tfjs';\nexport const m = () => tf.scalar(seed);\n`,
  'core/api/contract.ts': `import { z } from 'zod';\nexport const Doc = z.object({ id: z.number() });\nexport type Doc = z.infer<typeof Doc>;\n`,
  'core/api/client.ts': `import type { Doc } from './contract.js';\nexport interface ApiClient { get(): Promise<Doc> }\n`,
  'core/util/format.ts': `export const formatBytes = (n: number) => \`\${n} B\`;\n`,
  'core/library/database.ts': `import Database from 'better-sqlite3';\nimport fs from 'node:fs';\nexport type Db = Database.Database;\nexport const exists = fs.existsSync;\n`,
  'core/reading/read.ts': `import type { Db } from '../library/database.js';\nimport { m } from '../../models/memory/memory.js';\nexport const read = (db: Db) => m();\n`,
  'core/ask/ask.ts': `import type { Db } from '../library/database.js';\nimport { read } from '../reading/read.js';\nexport const ask = (db: Db) => read(db);\n`,
  'core/app.ts': `import { ask } from './ask/ask.js';\nexport const createCore = () => ask;\n`,
  'renderer/src/lib/state.svelte.ts': `import type { ApiClient } from '../../../core/api/client';\nimport { formatBytes } from '../../../core/util/format';\nexport const label = (c: ApiClient) => formatBytes(1);\n`,
  'renderer/src/App.svelte': `<script lang="ts">\n  import { onMount } from 'svelte';\n  import type { Doc } from '../../core/api/contract';\n  import { label } from './lib/state.svelte';\n</script>\n<p>hello</p>\n`,
  'renderer/vite.config.ts': `import path from 'node:path';\nexport default { root: path.resolve('.') };\n`,
  'electron/main.ts': `import { app } from 'electron';\nimport { createCore } from '../core/app.js';\nexport const start = () => app.whenReady().then(createCore);\n`,
  'scripts/eval.ts': `import fs from 'node:fs';\nimport { createCore } from '../core/app.js';\nimport { m } from '../models/memory/memory.js';\nimport { fixture } from '../test/fixtures/texts.js';\n`,
  'test/fixtures/texts.ts': `export const fixture = 'text';\n`,
  'bin/cli.mjs': `await import('../core/app.ts');\n`,
};

function tree(changes: Record<string, string | null> = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'check-deps-'));
  dirs.push(root);
  for (const [file, text] of Object.entries({ ...CLEAN, ...changes })) {
    if (text === null) continue;
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
  return root;
}

const found = (changes: Record<string, string | null>) => checkDeps(tree(changes)).violations.map((v) => ({ at: `${v.file}:${v.line}`, rule: v.rule }));
const one = (at: string, rule: Rule) => [{ at, rule }];

describe('checkDeps on generated trees', () => {
  it('passes a tree that keeps every rule', () => {
    const result = checkDeps(tree());
    expect(result.violations.map(formatViolation)).toEqual([]);
    expect(result.files).toBe(14); // test/ and renderer/vite.config.ts are not checked sources
    expect(result.imports).toBe(23);
  });

  it('fails an electron import in core, static or dynamic', () => {
    expect(found({ 'core/reading/read.ts': `${CLEAN['core/reading/read.ts']}import 'electron';\n` })).toEqual(one('core/reading/read.ts:4', 'no-electron'));
    expect(found({ 'models/util/random.ts': `export const seed = 1;\nexport const load = () => import('electron');\n` })).toEqual(one('models/util/random.ts:2', 'no-electron'));
    expect(found({ 'scripts/eval.ts': `import { app } from 'electron';\n` })).toEqual(one('scripts/eval.ts:1', 'no-electron'));
  });

  it('fails the DOM below the renderer: a Svelte import, a renderer module, a tsconfig with DOM', () => {
    expect(found({ 'core/ask/ask.ts': `import { tick } from 'svelte';\n` })).toEqual(one('core/ask/ask.ts:1', 'no-dom'));
    expect(found({ 'core/ask/ask.ts': `export { label } from '../../renderer/src/lib/state.svelte.js';\n` })).toEqual(one('core/ask/ask.ts:1', 'no-dom'));
    expect(found({ 'tsconfig.json': JSON.stringify({ compilerOptions: { lib: ['ES2023', 'DOM'] }, include: ['core/**/*.ts', 'models/**/*.ts'] }) })).toEqual(one('tsconfig.json:1', 'dom-lib'));
  });

  it('fails Node in the renderer: node: builtins, bare builtins, Node-only packages', () => {
    expect(found({ 'renderer/src/lib/fs.ts': `import fs from 'node:fs';\n` })).toEqual(one('renderer/src/lib/fs.ts:1', 'renderer-node'));
    expect(found({ 'renderer/src/lib/fs.ts': `import { Worker } from 'worker_threads';\nimport { readFile } from 'fs/promises';\n` })).toEqual([
      { at: 'renderer/src/lib/fs.ts:1', rule: 'renderer-node' },
      { at: 'renderer/src/lib/fs.ts:2', rule: 'renderer-node' },
    ]);
    expect(found({ 'renderer/src/App.svelte': `<script lang="ts">\n  import Database from 'better-sqlite3';\n</script>\n` })).toEqual(one('renderer/src/App.svelte:2', 'renderer-node'));
  });

  it('lets the renderer import only the browser-safe core modules, and holds those to the renderer rules', () => {
    expect(found({ 'renderer/src/lib/x.ts': `import type { Db } from '../../../core/library/database';\n` })).toEqual(one('renderer/src/lib/x.ts:1', 'renderer-core'));
    expect(found({ 'core/api/client.ts': `import path from 'node:path';\nimport type { Db } from '../library/database.js';\n` })).toEqual([
      { at: 'core/api/client.ts:1', rule: 'renderer-node' },
      { at: 'core/api/client.ts:2', rule: 'renderer-core' },
    ]);
    expect(found({ 'renderer/src/lib/x.ts': `import { m } from '../../../models/memory/memory.js';\n` })).toEqual(one('renderer/src/lib/x.ts:1', 'layer'));
  });

  it('fails an arrow back up the layers', () => {
    expect(found({ 'models/util/random.ts': `import type { Db } from '../../core/library/database.js';\nexport const seed = 1;\n` })).toEqual(one('models/util/random.ts:1', 'layer'));
    expect(found({ 'core/jobs/jobs.ts': `import '../../scripts/eval.js';\n` })).toEqual(one('core/jobs/jobs.ts:1', 'layer'));
    expect(found({ 'electron/main.ts': `import '../scripts/eval.js';\n` })).toEqual(one('electron/main.ts:1', 'layer'));
    expect(found({ 'core/app.ts': `import { fixture } from '../test/fixtures/texts.js';\n` })).toEqual(one('core/app.ts:1', 'layer'));
  });

  it('fails a cycle between two folders, type-only imports included', () => {
    const v = found({ 'core/reading/read.ts': `${CLEAN['core/reading/read.ts']}import type { ask } from '../ask/ask.js';\n` });
    expect(v).toEqual([
      { at: 'core/ask/ask.ts:2', rule: 'cycle' },
      { at: 'core/reading/read.ts:4', rule: 'cycle' },
    ]);
    const messages = checkDeps(tree({ 'core/reading/read.ts': `${CLEAN['core/reading/read.ts']}import type { ask } from '../ask/ask.js';\n` })).violations.map(formatViolation);
    expect(messages[0]).toContain('closes the cycle core/ask -> core/reading -> core/ask');
  });

  it('fails a cycle between two folders of models/, through export-from', () => {
    const v = found({
      'models/util/random.ts': `export { m } from '../memory/memory.js';\nexport const seed = 1;\n`,
    });
    expect(v).toEqual([
      { at: 'models/memory/memory.ts:1', rule: 'cycle' },
      { at: 'models/util/random.ts:1', rule: 'cycle' },
    ]);
  });

  it('fails a relative import that names no file', () => {
    expect(found({ 'core/ask/ask.ts': `import { gone } from './gone.js';\n` })).toEqual(one('core/ask/ask.ts:1', 'unresolved'));
  });
});

describe('readImports', () => {
  it('reads every kind of import with its line, and a .svelte file by its script blocks', () => {
    const ts = `import a from 'a';\nimport type { B } from 'b';\nexport * from 'c';\nexport type { D } from 'd';\nconst e = await import('e');\ntype F = import('f').F;\nconst g = require('g');\nimport h = require('h');\nimport { type I } from 'i';\n// import 'not-me';\nconst s = "import 'nor-me'";\n`;
    expect(readImports('x.ts', ts)).toEqual([
      { specifier: 'a', line: 1, typeOnly: false },
      { specifier: 'b', line: 2, typeOnly: true },
      { specifier: 'c', line: 3, typeOnly: false },
      { specifier: 'd', line: 4, typeOnly: true },
      { specifier: 'e', line: 5, typeOnly: false },
      { specifier: 'f', line: 6, typeOnly: true },
      { specifier: 'g', line: 7, typeOnly: false },
      { specifier: 'h', line: 8, typeOnly: false },
      { specifier: 'i', line: 9, typeOnly: true },
    ]);
    const svelte = `<script module>\n  import a from 'a';\n</script>\n\n<script lang="ts">\n\n  import b from 'b';\n</script>\n<div>{import('no')}</div>\n`;
    expect(readImports('X.svelte', svelte).map((r) => [r.specifier, r.line])).toEqual([
      ['a', 2],
      ['b', 7],
    ]);
  });
});

describe('the repository', () => {
  it('keeps every rule', () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const result = checkDeps(root);
    expect(result.violations.map(formatViolation)).toEqual([]);
    expect(result.files).toBeGreaterThan(150);
  });
});
