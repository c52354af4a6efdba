// The desktop shell cannot run here (no Electron binary), so its thin wiring is tested directly:
// window settings, the menu, the build's fuses, the request filter, the IPC bridge (top frame only,
// dropped paths), the sandboxed preload, and the core's refusal of paths the user did not choose.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RemoteError, type ApiClient } from '../../../core/api/client.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { PathGrants } from '../../../core/grants.js';
import { bridgeApi, DROPPED_CHANNEL, MESSAGE_CHANNEL, REQUEST_CHANNEL } from '../../../electron/ipc.js';
import { menuTemplate } from '../../../electron/menu.js';
import { isAllowedRequest, mainWindowOptions } from '../../../electron/window-options.js';
import { tempDir, writeFile } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');

describe('window settings', () => {
  it('sandboxes the renderer with context isolation and no Node', () => {
    const prefs = mainWindowOptions('/x/preload.cjs').webPreferences!;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, webSecurity: true, webviewTag: false });
    expect(prefs.preload).toBe('/x/preload.cjs');
    expect(mainWindowOptions('/x/preload.cjs', { devTools: false }).webPreferences!.devTools).toBe(false);
    expect(mainWindowOptions('/x/preload.cjs', { devTools: true }).webPreferences!.devTools).toBe(true);
  });

  it('lets no request leave the machine', () => {
    expect(isAllowedRequest('file:///app/dist/renderer/index.html')).toBe(true);
    for (const url of ['https://example.com/', 'http://127.0.0.1:8080/', 'ws://localhost:1/']) expect(isAllowedRequest(url)).toBe(false);
  });

  it('ships a strict Content-Security-Policy in the page', () => {
    const html = fs.readFileSync(path.join(root, 'renderer/index.html'), 'utf8');
    const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
    expect(csp).toMatch(/connect-src ws:\/\/127\.0\.0\.1:\* ws:\/\/localhost:\*(;|$)/);
  });
});

describe('the packaged app', () => {
  const roles = (packaged: boolean) => {
    const all: unknown[] = [];
    const walk = (items: unknown) => {
      for (const item of items as Array<{ role?: string; submenu?: unknown }>) {
        if (item.role) all.push(item.role);
        if (Array.isArray(item.submenu)) walk(item.submenu);
      }
    };
    walk(menuTemplate({ packaged, platform: 'linux', showLibraryFolder: () => {} }));
    return all;
  };

  it('has no DevTools and no reload in its menu; a development build keeps them', () => {
    expect(roles(true)).not.toContain('toggleDevTools');
    expect(roles(true)).not.toContain('reload');
    expect(roles(true)).toEqual(expect.arrayContaining(['fileMenu', 'editMenu', 'resetZoom', 'togglefullscreen', 'windowMenu']));
    expect(roles(false)).toEqual(expect.arrayContaining(['reload', 'toggleDevTools']));
  });

  it('packages the native modules outside the ASAR and the default model with its reading graph', () => {
    const config = JSON.parse(fs.readFileSync(path.join(root, 'build/electron-builder.json'), 'utf8')) as { asarUnpack: string[]; extraResources: Array<{ from: string; filter: string[] }> };
    for (const native of ['better-sqlite3', 'webgpu', 'onnxruntime-node']) expect(config.asarUnpack).toContain(`node_modules/${native}/**`);
    const models = config.extraResources.find((r) => r.from === 'models/default')!;
    const pin = JSON.parse(fs.readFileSync(path.join(root, 'models/default/model.json'), 'utf8')) as { file: string };
    const graph = JSON.parse(fs.readFileSync(path.join(root, 'models/default/reading-step.json'), 'utf8')) as { graph: string };
    for (const f of [pin.file, graph.graph, 'reading-step.json']) expect(models.filter.some((p) => path.matchesGlob(f, p)), f).toBe(true);
  });

  it('is built with Electron fuses that close run-as-node, NODE_OPTIONS, --inspect and loading outside the checked ASAR', () => {
    const config = JSON.parse(fs.readFileSync(path.join(root, 'build/electron-builder.json'), 'utf8')) as { electronFuses?: Record<string, boolean> };
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    // the names electron-builder's schema knows (a misspelt fuse would be ignored or fail the build)
    const scheme = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/app-builder-lib/scheme.json'), 'utf8')) as { definitions: Record<string, { properties: Record<string, unknown> }> };
    const known = Object.keys(scheme.definitions.FuseOptionsV1!.properties);
    for (const fuse of Object.keys(config.electronFuses!)) expect(known).toContain(fuse);
  });
});

/** ipcMain as the bridge uses it: on/off for requests, handle/removeHandler for the dropped paths. */
class FakeIpc extends EventEmitter {
  handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
  handle(channel: string, fn: (event: unknown, ...args: unknown[]) => unknown) {
    if (this.handlers.has(channel)) throw new Error(`a second handler for ${channel}`);
    this.handlers.set(channel, fn);
  }
  removeHandler(channel: string) {
    this.handlers.delete(channel);
  }
  invoke(channel: string, event: unknown, ...args: unknown[]) {
    return this.handlers.get(channel)!(event, ...args);
  }
}

describe('IPC bridge', () => {
  let dir: string;
  let core: Core;
  const rendererUrl = 'file:///app/dist/renderer/index.html';
  const sent: unknown[] = [];
  const webContents = { send: (channel: string, msg: unknown) => sent.push([channel, msg]) };
  const window = { isDestroyed: () => false, webContents };
  let ipc: FakeIpc;

  beforeEach(() => {
    dir = tempDir();
    core = createCore({ dataDir: dir, transport: 'electron' });
    sent.length = 0;
    ipc = new FakeIpc();
  });
  afterEach(async () => {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const settle = () => new Promise((r) => setTimeout(r, 20));
  const from = (sender: unknown, url: string, parent: unknown = null) => ({ sender, senderFrame: { url, parent } });

  it('answers validated calls from the app window only, and streams events to its subscription', async () => {
    const unbridge = bridgeApi(ipc as never, core.server, window, rendererUrl);
    const call = (id: number, method: string, params: unknown) => ({ rpc: 'call', id, method, params });
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl + '#/library'), call(1, 'library.list', {}));
    ipc.emit(REQUEST_CHANNEL, from({}, rendererUrl), call(2, 'library.list', {})); // another webContents
    ipc.emit(REQUEST_CHANNEL, from(webContents, 'https://evil.example/'), call(3, 'library.list', {})); // another frame
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), call(4, 'library.get', { id: 'x' }));
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), { rpc: 'call', id: 8, method: 42 }); // malformed, names its call
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), { nonsense: true }); // names no call: noted, not answered
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), call(9, 'events.subscribe', {}));
    await settle();
    expect(sent).toContainEqual([MESSAGE_CHANNEL, { rpc: 'result', id: 1, result: [] }]);
    expect(sent.some((s) => [2, 3].includes((s as [string, { id: number }])[1].id))).toBe(false);
    const bad = sent.find((s) => (s as [string, { id: number }])[1].id === 4) as [string, { rpc: string; error: { code: string } }];
    expect(bad[1]).toMatchObject({ rpc: 'error', error: { code: 'bad_request' } });
    expect(sent.find((s) => (s as [string, { id: number }])[1].id === 8)).toMatchObject([MESSAGE_CHANNEL, { rpc: 'error', error: { code: 'bad_request' } }]);

    core.server.events.emit('library.changed', {});
    expect(sent.at(-1)).toEqual([MESSAGE_CHANNEL, { rpc: 'chunk', id: 9, chunk: { event: 'library.changed', payload: {} } }]);
    unbridge();
    expect(ipc.listenerCount(REQUEST_CHANNEL)).toBe(0);
    expect(ipc.handlers.size).toBe(0);
    const before = sent.length;
    core.server.events.emit('library.changed', {});
    expect(sent.length).toBe(before); // the subscription ended with the bridge
  });

  it('answers only the top frame: a subframe showing the app page is ignored', async () => {
    const unbridge = bridgeApi(ipc as never, core.server, window, rendererUrl);
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl, { url: rendererUrl, parent: null }), { rpc: 'call', id: 5, method: 'library.list', params: {} });
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), { rpc: 'call', id: 6, method: 'library.list', params: {} });
    ipc.emit(REQUEST_CHANNEL, { sender: webContents, senderFrame: null }, { rpc: 'call', id: 7, method: 'library.list', params: {} }); // a frame gone
    await settle();
    const ids = sent.map((s) => (s as [string, { id?: number }])[1].id);
    expect(ids).not.toContain(5);
    expect(ids).not.toContain(7);
    expect(ids).toContain(6);
    unbridge();
  });

  it('grants the paths the preload reports as dropped, from the top frame only, and then imports them', async () => {
    const api = createInProcessClient(core.server);
    const dropped = writeFile(dir, 'dropped.txt', 'Dropped on the window.\n');
    const other = writeFile(dir, 'other.txt', 'Never dropped.\n');
    const unbridge = bridgeApi(ipc as never, core.server, window, rendererUrl, core.grants);
    expect(ipc.invoke(DROPPED_CHANNEL, from(webContents, rendererUrl, { parent: null }), [other])).toEqual([]); // a subframe
    expect(ipc.invoke(DROPPED_CHANNEL, from({}, rendererUrl), [other])).toEqual([]); // another webContents
    expect(ipc.invoke(DROPPED_CHANNEL, from(webContents, 'https://evil.example/'), [other])).toEqual([]);
    expect(ipc.invoke(DROPPED_CHANNEL, from(webContents, rendererUrl), ['relative/other.txt'])).toEqual([]); // not absolute: refused whole
    expect(ipc.invoke(DROPPED_CHANNEL, from(webContents, rendererUrl), [other, 42])).toEqual([]);
    expect(ipc.invoke(DROPPED_CHANNEL, from(webContents, rendererUrl), 'not a list')).toEqual([]);
    expect(ipc.invoke(DROPPED_CHANNEL, from(webContents, rendererUrl + '#/library'), [dropped])).toEqual([dropped]);
    expect((await api.call('library.importPath', { path: dropped })).document.title).toBe('dropped');
    expect(await refusal(api.call('library.importPath', { path: other }))).toMatchObject({ code: 'unauthorized' });
    unbridge();
  });
});

const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as RemoteError);

describe('paths from the desktop renderer', () => {
  let dir: string;
  let core: Core;
  let api: ApiClient;
  let dialogReturns: string[];
  let dialogAsked: Array<{ folders: boolean }>;
  beforeEach(() => {
    dir = tempDir();
    dialogReturns = [];
    dialogAsked = [];
    core = createCore({
      dataDir: path.join(dir, 'data'),
      transport: 'electron',
      openFilesDialog: async (o) => {
        dialogAsked.push(o);
        return dialogReturns;
      },
    });
    api = createInProcessClient(core.server);
  });
  afterEach(async () => {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('are refused unless the user chose them, with a message that says what to do', async () => {
    const secret = writeFile(dir, 'id_rsa', 'PRIVATE KEY\n');
    const e = await refusal(api.call('library.importPath', { path: secret }));
    expect(e).toBeInstanceOf(RemoteError);
    expect(e).toMatchObject({ code: 'unauthorized', message: `Titans Reader reads only files you chose: ${secret} was not picked in the open dialog or dropped on the window.`, hint: 'Add it with “Add files…” or drag it onto the window.' });
    expect(await refusal(api.call('models.import', { path: secret }))).toMatchObject({ code: 'unauthorized', hint: 'Import it with “Import a model” in the Models view (it is uploaded).' });
    expect(await refusal(api.call('finetune.start', { name: 'x', baseModelId: 'none', paths: [dir] }))).toMatchObject({ code: 'unauthorized', hint: expect.stringMatching(/Choose folders…/) });
    expect(await api.call('library.list', {})).toEqual([]);
  });

  it('are accepted once picked in the native dialog, and only those', async () => {
    const chosen = writeFile(dir, 'chosen.txt', 'The user chose this.\n');
    const sibling = writeFile(dir, 'sibling.txt', 'Not chosen.\n');
    dialogReturns = [chosen];
    expect(await api.call('dialog.openFiles', {})).toEqual({ paths: [chosen] });
    expect(dialogAsked).toEqual([{ folders: false }]);
    expect((await api.call('library.importPath', { path: chosen })).document.title).toBe('chosen');
    expect(await refusal(api.call('library.importPath', { path: sibling }))).toMatchObject({ code: 'unauthorized' });
    expect(await refusal(api.call('library.importPath', { path: `${chosen}/../sibling.txt` }))).toMatchObject({ code: 'unauthorized' });
    expect(await refusal(api.call('library.importPath', { path: 'chosen.txt' }))).toMatchObject({ code: 'unauthorized' }); // relative
  });

  it('under a folder picked in the dialog are accepted for a fine-tune, and nothing outside it', async () => {
    const folder = path.join(dir, 'notes');
    fs.mkdirSync(path.join(folder, 'sub'), { recursive: true });
    const inside = writeFile(path.join(folder, 'sub'), 'a.txt', 'Notes.\n');
    const outside = writeFile(dir, 'notes-2.txt', 'A neighbour whose name starts like the folder.\n');
    dialogReturns = [folder];
    expect(await api.call('dialog.openFiles', { folders: true })).toEqual({ paths: [folder] });
    expect(dialogAsked).toEqual([{ folders: true }]);
    // past the grant, the fine-tune goes on to its base model (none here): a different refusal
    for (const p of [folder, inside]) expect(await refusal(api.call('finetune.start', { name: 'x', baseModelId: 'none', paths: [p] }))).toMatchObject({ code: 'not_found' });
    for (const p of [outside, dir, `${folder}/../notes-2.txt`]) expect(await refusal(api.call('finetune.start', { name: 'x', baseModelId: 'none', paths: [inside, p] }))).toMatchObject({ code: 'unauthorized' });
    // a folder grant is for what is under it; a file picked is that file alone
    expect((await api.call('library.importPath', { path: inside })).document.title).toBe('a');
  });

  it('are trusted from the CLI (the user typed them), and never offered to the browser host', async () => {
    const file = writeFile(dir, 'typed.txt', 'Typed on the command line.\n');
    const cliCore = createCore({ dataDir: path.join(dir, 'cli'), transport: 'in-process' });
    try {
      expect((await createInProcessClient(cliCore.server).call('library.importPath', { path: file })).document.title).toBe('typed');
    } finally {
      await cliCore.close();
    }
    const hostCore = createCore({ dataDir: path.join(dir, 'host'), transport: 'websocket' });
    try {
      expect(await refusal(createInProcessClient(hostCore.server).call('library.importPath', { path: file }))).toMatchObject({ code: 'unavailable' });
    } finally {
      await hostCore.close();
    }
  });
});

describe('PathGrants', () => {
  it('covers a file exactly and a folder with what is under it', () => {
    const g = new PathGrants();
    const root = path.resolve('/home/reader');
    g.grantFiles([path.join(root, 'book.txt'), 'relative.txt']);
    g.grantFolders([path.join(root, 'notes')]);
    expect(g.allows(path.join(root, 'book.txt'))).toBe(true);
    expect(g.allows(path.join(root, 'book.txt', 'x'))).toBe(false);
    expect(g.allows('relative.txt')).toBe(false);
    expect(g.allows(path.join(root, 'notes'))).toBe(true);
    expect(g.allows(path.join(root, 'notes', 'a', 'b.md'))).toBe(true);
    expect(g.allows(path.join(root, 'notes', '..foo'))).toBe(true); // a name that starts with two dots is still inside
    expect(g.allows(path.join(root, 'notes', '..', '.ssh', 'id_rsa'))).toBe(false);
    expect(g.allows(path.join(root, 'notes-old', 'a.md'))).toBe(false);
    expect(g.allows(root)).toBe(false);
  });
});

describe('preload', () => {
  it('exposes one bridge object that forwards only requests, and the paths of dropped files', async () => {
    const source = fs.readFileSync(path.join(root, 'electron/preload.cts'), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const exposed: Record<string, unknown> = {};
    const toMain: unknown[] = [];
    const ipcRenderer = new EventEmitter() as EventEmitter & { send: (c: string, m: unknown) => void };
    ipcRenderer.send = (channel, msg) => toMain.push([channel, msg]);
    const invoked: unknown[] = [];
    (ipcRenderer as unknown as { invoke: (c: string, m: unknown) => Promise<unknown> }).invoke = async (channel, msg) => {
      invoked.push([channel, msg]);
      return msg;
    };
    class FakeFile {
      constructor(readonly path: string) {}
    }
    const webUtils = {
      getPathForFile: (f: unknown) => {
        if (!(f instanceof FakeFile)) throw new TypeError('not a File');
        return f.path; // '' for a File made by script
      },
    };
    const electron = { contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) }, ipcRenderer, webUtils };
    const requireStub = (name: string) => {
      if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
      return electron;
    };
    vm.runInNewContext(js, { require: requireStub, exports: {}, module: { exports: {} } });

    expect(Object.keys(exposed)).toEqual(['titansBridge']);
    const bridge = exposed.titansBridge as { send(m: unknown): void; onMessage(r: (m: unknown) => void): void; grantDropped(files: unknown): Promise<string[]> };
    expect(Object.keys(bridge).sort()).toEqual(['grantDropped', 'onMessage', 'send']);
    bridge.send({ rpc: 'call', id: 1, method: 'library.list', params: {} });
    bridge.send({ rpc: 'cancel', id: 1 });
    bridge.send({ rpc: 'result', id: 1, result: [] }); // a page does not answer the core
    bridge.send({ type: 'event', event: 'x' });
    bridge.send('raw string');
    expect(toMain).toEqual([
      ['titans:request', { rpc: 'call', id: 1, method: 'library.list', params: {} }],
      ['titans:request', { rpc: 'cancel', id: 1 }],
    ]);
    const received: unknown[] = [];
    bridge.onMessage((m) => received.push(m));
    ipcRenderer.emit('titans:message', {}, { rpc: 'chunk', id: 9, chunk: { event: 'library.changed', payload: {} } });
    expect(received).toEqual([{ rpc: 'chunk', id: 9, chunk: { event: 'library.changed', payload: {} } }]);

    // dropped files: their paths come from webUtils, never from the page; no path, nothing sent
    expect(await bridge.grantDropped([new FakeFile('/home/reader/book.txt'), new FakeFile(''), '/etc/passwd', { path: '/etc/shadow' }])).toEqual(['/home/reader/book.txt']);
    expect(await bridge.grantDropped(['/etc/passwd'])).toEqual([]);
    expect(await bridge.grantDropped('/etc/passwd')).toEqual([]);
    expect(invoked).toEqual([['titans:dropped-paths', ['/home/reader/book.txt']]]);
    expect(toMain).toHaveLength(2); // nothing more on the request channel
  });
});
