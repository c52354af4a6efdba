// The desktop shell cannot run here (no Electron binary), so its thin wiring is tested directly:
// window settings, the request filter, the IPC bridge and the sandboxed preload.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCore, type Core } from '../../../core/app.js';
import { bridgeApi, MESSAGE_CHANNEL, REQUEST_CHANNEL } from '../../../electron/ipc.js';
import { isAllowedRequest, mainWindowOptions } from '../../../electron/window-options.js';
import { tempDir } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');

describe('window settings', () => {
  it('sandboxes the renderer with context isolation and no Node', () => {
    const prefs = mainWindowOptions('/x/preload.cjs').webPreferences!;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, webSecurity: true, webviewTag: false });
    expect(prefs.preload).toBe('/x/preload.cjs');
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

describe('IPC bridge', () => {
  let dir: string;
  let core: Core;
  const rendererUrl = 'file:///app/dist/renderer/index.html';
  const sent: unknown[] = [];
  const webContents = { send: (channel: string, msg: unknown) => sent.push([channel, msg]) };
  const window = { isDestroyed: () => false, webContents };
  const ipc = new EventEmitter();

  beforeEach(() => {
    dir = tempDir();
    core = createCore({ dataDir: dir, transport: 'electron' });
    sent.length = 0;
  });
  afterEach(async () => {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const settle = () => new Promise((r) => setTimeout(r, 20));
  const from = (sender: unknown, url: string) => ({ sender, senderFrame: { url } });

  it('answers validated requests from the app window only', async () => {
    const unbridge = bridgeApi(ipc as never, core.server, window, rendererUrl);
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl + '#/library'), { type: 'request', id: 1, method: 'library.list', params: {} });
    ipc.emit(REQUEST_CHANNEL, from({}, rendererUrl), { type: 'request', id: 2, method: 'library.list', params: {} }); // another webContents
    ipc.emit(REQUEST_CHANNEL, from(webContents, 'https://evil.example/'), { type: 'request', id: 3, method: 'library.list', params: {} }); // another frame
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), { type: 'request', id: 4, method: 'library.get', params: { id: 'x' } });
    ipc.emit(REQUEST_CHANNEL, from(webContents, rendererUrl), { nonsense: true });
    await settle();
    expect(sent).toContainEqual([MESSAGE_CHANNEL, { type: 'response', id: 1, ok: true, result: [] }]);
    expect(sent.some((s) => [2, 3].includes((s as [string, { id: number }])[1].id))).toBe(false);
    const bad = sent.find((s) => (s as [string, { id: number }])[1].id === 4) as [string, { ok: boolean; error: { code: string } }];
    expect(bad[1]).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(sent.some((s) => (s as [string, { id: number; ok: boolean }])[1].id === -1)).toBe(true);

    core.server.events.emit('library.changed', {});
    expect(sent.at(-1)).toEqual([MESSAGE_CHANNEL, { type: 'event', event: 'library.changed', payload: {} }]);
    unbridge();
    expect(ipc.listenerCount(REQUEST_CHANNEL)).toBe(0);
    const before = sent.length;
    core.server.events.emit('library.changed', {});
    expect(sent.length).toBe(before);
  });
});

describe('preload', () => {
  it('exposes one bridge object that forwards only requests', () => {
    const source = fs.readFileSync(path.join(root, 'electron/preload.cts'), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const exposed: Record<string, unknown> = {};
    const toMain: unknown[] = [];
    const ipcRenderer = new EventEmitter() as EventEmitter & { send: (c: string, m: unknown) => void };
    ipcRenderer.send = (channel, msg) => toMain.push([channel, msg]);
    const electron = { contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) }, ipcRenderer };
    const requireStub = (name: string) => {
      if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
      return electron;
    };
    vm.runInNewContext(js, { require: requireStub, exports: {}, module: { exports: {} } });

    expect(Object.keys(exposed)).toEqual(['titansBridge']);
    const bridge = exposed.titansBridge as { send(m: unknown): void; onMessage(r: (m: unknown) => void): void };
    expect(Object.keys(bridge).sort()).toEqual(['onMessage', 'send']);
    bridge.send({ type: 'request', id: 1, method: 'library.list', params: {} });
    bridge.send({ type: 'event', event: 'x' });
    bridge.send('raw string');
    expect(toMain).toEqual([['titans:request', { type: 'request', id: 1, method: 'library.list', params: {} }]]);
    const received: unknown[] = [];
    bridge.onMessage((m) => received.push(m));
    ipcRenderer.emit('titans:message', {}, { type: 'event', event: 'library.changed', payload: {} });
    expect(received).toEqual([{ type: 'event', event: 'library.changed', payload: {} }]);
  });
});
