// The dependency rules that keep the folders showing the architecture (docs/architecture-rules.md):
// models at the bottom, core on models, and the renderer, the Electron shell, scripts and bin on
// core; no imports back up, no Electron or DOM below the shell, no Node in the renderer, no import
// cycles between the folders of core/ and models/. `npm run check:deps` (the first step of
// `npm test`) prints each broken rule as file:line and exits 1.
//
// Every import counts: static imports and `export ... from`, `import type` (a type-only edge still
// ties the two folders together: moving either one means editing the other), dynamic `import()`,
// `import('x').T` type queries, `require()` and `import x = require()`. Imports are read with the
// TypeScript parser, from .ts/.mts/.cts/.js/.mjs/.cjs files and the <script> blocks of .svelte
// files; nothing is type-checked, so this stays a second or two.
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The folders checked, bottom layer first. `renderer` is renderer/src: renderer/*.config.* are
 *  build tooling that runs in Node, not code that ships to the page. */
export const AREAS = ['models', 'core', 'renderer', 'electron', 'scripts', 'bin'] as const;
export type Area = (typeof AREAS)[number];
const AREA_DIRS: Record<Area, string> = {
  models: 'models',
  core: 'core',
  renderer: 'renderer/src',
  electron: 'electron',
  scripts: 'scripts',
  bin: 'bin',
};

/** What each area may import besides itself and packages. The layering is not strict: whatever
 *  sits on core may also use models directly (scripts train models; core wraps them for the app). */
export const MAY_IMPORT: Record<Area, readonly Area[]> = {
  models: [],
  core: ['models'],
  renderer: ['core'], // only BROWSER_SAFE_CORE modules of it, see below
  electron: ['core', 'models'],
  scripts: ['core', 'models'],
  bin: ['core', 'models'],
};

/** Folders outside the checked areas that an area may still import: the benchmarks in scripts/bench
 *  reuse the test fixtures and the end-to-end test's host. Nothing else imports test/ or train/. */
export const MAY_IMPORT_OUTSIDE: Partial<Record<Area, readonly string[]>> = {
  scripts: ['test/'],
};

/** The core modules the renderer may import (type-only imports included: svelte-check compiles
 *  them with the DOM library and without Node's types). Each is pure: it imports only zod and
 *  the others in this list, which the check verifies like renderer code. */
export const BROWSER_SAFE_CORE: readonly string[] = [
  'core/api/contract.ts', // the API's methods, events and result types (zod schemas)
  'core/api/client.ts', // the ApiClient interface and RemoteError
  'core/api/errors.ts', // the error shape the wire carries
  'core/rpc/api-client.ts', // the ApiClient over the RPC (IPC or WebSocket)
  'core/rpc/rpc.ts', // the one RPC mechanism (calls, streams, cancellation, validation)
  'core/rpc/ports.ts', // its ports over a WebSocket and a channel given as functions (Electron IPC)
  'core/util/format.ts', // byte and duration formatting
];

/** Packages only Node (or Electron's main process) can load: native addons, servers, runners. */
export const NODE_ONLY_PACKAGES: readonly string[] = [
  'better-sqlite3',
  'ws',
  'webgpu',
  'tsx',
  'linkedom',
  'chardet',
  'iconv-lite',
  'mammoth',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'electron-builder',
];

/** Packages that need a page (a DOM) or are the UI framework: never below the renderer. */
export const DOM_PACKAGES: readonly string[] = ['svelte', '@sveltejs/vite-plugin-svelte', 'vite', '@testing-library/svelte', 'jsdom'];

export type Rule = 'layer' | 'no-electron' | 'no-dom' | 'renderer-node' | 'renderer-core' | 'cycle' | 'unresolved' | 'dom-lib';

export interface Violation {
  /** path relative to the root, with forward slashes */
  file: string;
  line: number;
  rule: Rule;
  message: string;
}

export interface ImportRef {
  specifier: string;
  line: number;
  typeOnly: boolean;
}

export interface CheckResult {
  violations: Violation[];
  files: number;
  imports: number;
}

const CODE_EXT = /\.(ts|mts|cts|js|mjs|cjs|svelte)$/;
const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')));

const posix = (p: string) => p.split(path.sep).join('/');

function walk(dir: string, out: string[]): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile() && CODE_EXT.test(entry.name)) out.push(full);
  }
}

/** The import specifiers of one file's source text (a .svelte file's <script> blocks). */
export function readImports(fileName: string, text: string): ImportRef[] {
  if (fileName.endsWith('.svelte')) {
    const refs: ImportRef[] = [];
    for (const m of text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
      const start = m.index + m[0].indexOf('>') + 1;
      const lineOffset = text.slice(0, start).split('\n').length - 1;
      for (const ref of readImports(`${fileName}.ts`, m[1]!)) refs.push({ ...ref, line: ref.line + lineOffset });
    }
    return refs;
  }
  const kind = /\.(js|mjs|cjs)$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const refs: ImportRef[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean) => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const line = source.getLineAndCharacterOfPosition(spec.getStart(source)).line + 1;
    refs.push({ specifier: spec.text, line, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require' && node.arguments.length === 1;
      if (isImport || isRequire) add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

/** The file a relative specifier names: as written, or the .ts source of a .js specifier (NodeNext),
 *  or with an extension added, or a folder's index (Bundler-style, the renderer). */
function resolveRelative(fromFile: string, specifier: string): string | null {
  const bare = specifier.replace(/[?#].*$/, '');
  const base = path.resolve(path.dirname(fromFile), bare);
  const candidates = [base];
  const js = /\.(m|c)?js$/.exec(base);
  if (js) candidates.push(base.slice(0, -js[0].length) + `.${js[1] ?? ''}ts`);
  for (const ext of ['.ts', '.mts', '.cts', '.svelte', '.js', '.mjs', '.json']) candidates.push(base + ext);
  for (const ext of ['index.ts', 'index.js']) candidates.push(path.join(base, ext));
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  return null;
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name` */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const isNodeBuiltin = (specifier: string) => specifier.startsWith('node:') || NODE_BUILTINS.has(packageName(specifier));

/** The unit an import cycle is measured between: an immediate subfolder of core/ or models/ (or
 *  a file directly in them), or the whole area elsewhere. */
export function unitOf(rel: string): string {
  const parts = rel.split('/');
  if ((parts[0] === 'core' || parts[0] === 'models') && parts.length >= 2) return `${parts[0]}/${parts[1]}`;
  if (parts[0] === 'renderer') return 'renderer';
  return parts[0]!;
}

export function areaOf(rel: string): Area | null {
  for (const area of AREAS) if (rel === AREA_DIRS[area] || rel.startsWith(`${AREA_DIRS[area]}/`)) return area;
  return null;
}

/** The strongly connected components of a graph with more than one node (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return out;
}

/** A shortest path from `from` to `to` inside `within` (breadth first), as the list of nodes. */
function shortestPath(graph: Map<string, Set<string>>, from: string, to: string, within: Set<string>): string[] {
  const prev = new Map<string, string>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length) {
    const v = queue.shift()!;
    if (v === to) break;
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!within.has(w) || seen.has(w)) continue;
      seen.add(w);
      prev.set(w, v);
      queue.push(w);
    }
  }
  const pathBack = [to];
  while (pathBack[0] !== from) pathBack.unshift(prev.get(pathBack[0]!)!);
  return pathBack;
}

/** tsconfig.json compiles core/ and models/ without the DOM library, so a `document` or `window`
 *  there is a type error; this makes sure it stays that way. */
function checkDomLib(root: string): Violation[] {
  const file = path.join(root, 'tsconfig.json');
  if (!fs.existsSync(file)) return [];
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) return [{ file: 'tsconfig.json', line: 1, rule: 'dom-lib', message: 'cannot read tsconfig.json' }];
  const lib: string[] = config?.compilerOptions?.lib ?? [];
  const problems: Violation[] = [];
  const line = (needle: string) => Math.max(1, fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1);
  if (!config?.compilerOptions?.lib || lib.some((l) => /^dom/i.test(l))) {
    problems.push({ file: 'tsconfig.json', line: line('"lib"'), rule: 'dom-lib', message: 'tsconfig.json must set "lib" without DOM, so that DOM globals are type errors in core/ and models/' });
  }
  const include: string[] = config?.include ?? [];
  for (const area of ['core', 'models']) {
    if (!include.some((i) => i.startsWith(`${area}/`))) {
      problems.push({ file: 'tsconfig.json', line: line('"include"'), rule: 'dom-lib', message: `tsconfig.json must include ${area}/ (it type-checks ${area}/ without the DOM)` });
    }
  }
  return problems;
}

/** Check the tree under `root`; the violations come sorted by file and line. */
export function checkDeps(root: string): CheckResult {
  const files: string[] = [];
  for (const area of AREAS) walk(path.join(root, AREA_DIRS[area]), files);
  const rel = (abs: string) => posix(path.relative(root, abs));
  const violations: Violation[] = [...checkDomLib(root)];
  const browserSafe = new Set(BROWSER_SAFE_CORE);
  const unitGraph = new Map<string, Set<string>>();
  const unitEdges = new Map<string, { file: string; line: number; target: string }[]>();
  let imports = 0;

  for (const abs of files.sort()) {
    const file = rel(abs);
    const area = areaOf(file)!;
    const inBrowser = area === 'renderer' || browserSafe.has(file);
    const v = (line: number, rule: Rule, message: string) => violations.push({ file, line, rule, message });
    for (const ref of readImports(abs, fs.readFileSync(abs, 'utf8'))) {
      imports++;
      const { specifier: spec, line } = ref;
      if (spec.startsWith('.') || spec.startsWith('/')) {
        const target = resolveRelative(abs, spec);
        if (!target) {
          v(line, 'unresolved', `'${spec}' names no file`);
          continue;
        }
        const to = rel(target);
        const toArea = areaOf(to);
        if (toArea === 'renderer' && to.endsWith('.svelte') && (area === 'core' || area === 'models')) {
          v(line, 'no-dom', `${area}/ imports a Svelte component (${to})`);
        } else if (toArea === null ? !(MAY_IMPORT_OUTSIDE[area] ?? []).some((dir) => to.startsWith(dir)) : toArea !== area && !MAY_IMPORT[area].includes(toArea)) {
          const where = toArea ?? (to.startsWith('..') ? 'outside the repository' : to.split('/')[0] + '/');
          const dom = toArea === 'renderer' && (area === 'core' || area === 'models');
          v(line, dom ? 'no-dom' : 'layer', `${area}/ must not import ${where} (${to}); ${area} may import ${[area, ...MAY_IMPORT[area]].join(', ')}`);
        }
        if (inBrowser && toArea === 'core' && !browserSafe.has(to)) {
          v(line, 'renderer-core', `${area === 'renderer' ? 'the renderer' : `${file} (loaded by the renderer)`} imports ${to}, which is not one of the browser-safe core modules (${BROWSER_SAFE_CORE.join(', ')})`);
        }
        const fromUnit = unitOf(file);
        const toUnit = unitOf(to);
        if (toArea && fromUnit !== toUnit) {
          if (!unitGraph.has(fromUnit)) unitGraph.set(fromUnit, new Set());
          unitGraph.get(fromUnit)!.add(toUnit);
          const key = `${fromUnit}\0${toUnit}`;
          if (!unitEdges.has(key)) unitEdges.set(key, []);
          unitEdges.get(key)!.push({ file, line, target: to });
        }
        continue;
      }
      const pkg = packageName(spec);
      if (pkg === 'electron' && area !== 'electron') {
        v(line, 'no-electron', `only electron/ may import 'electron' (this is ${area}/)`);
      } else if ((area === 'core' || area === 'models') && (DOM_PACKAGES.includes(pkg) || spec.endsWith('.svelte'))) {
        v(line, 'no-dom', `${area}/ must not import '${spec}': it needs a page or is the UI framework`);
      }
      if (inBrowser && (isNodeBuiltin(spec) || NODE_ONLY_PACKAGES.includes(pkg))) {
        const who = area === 'renderer' ? 'the renderer' : `${file} (loaded by the renderer)`;
        v(line, 'renderer-node', `${who} must not import '${spec}': ${isNodeBuiltin(spec) ? 'a Node builtin' : 'a Node-only package'}`);
      }
    }
  }

  for (const component of cycles(unitGraph)) {
    const members = new Set(component);
    for (const from of component) {
      for (const to of [...(unitGraph.get(from) ?? [])].sort()) {
        if (!members.has(to)) continue;
        const back = shortestPath(unitGraph, to, from, members);
        const loop = [from, ...back].join(' -> ');
        for (const e of unitEdges.get(`${from}\0${to}`)!) {
          violations.push({ file: e.file, line: e.line, rule: 'cycle', message: `${from} -> ${to} (imports ${e.target}) closes the cycle ${loop}` });
        }
      }
    }
  }

  violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
  return { violations, files: files.length, imports };
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}  [${v.rule}] ${v.message}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const result = checkDeps(root);
  for (const violation of result.violations) console.error(formatViolation(violation));
  if (result.violations.length) {
    console.error(`check-deps: ${result.violations.length} violation(s) in ${result.files} files (rules: docs/architecture-rules.md)`);
    process.exit(1);
  }
  console.log(`check-deps: ${result.files} files, ${result.imports} imports, no violations`);
}
