// Electron's main process: a window, the native open dialog, a single instance, the core wired to
// the renderer. No application logic lives here; it is all in core/.
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCore, type Core } from '../core/app.js';
import { ApiError } from '../core/api/errors.js';
import { dataDirFromArgs, resolveDataDir } from '../core/paths.js';
import { bridgeApi } from './ipc.js';
import { menuTemplate } from './menu.js';
import { isAllowedRequest, mainWindowOptions } from './window-options.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/electron
const rendererUrl = pathToFileURL(path.join(here, '..', 'renderer', 'index.html')).href;

app.setName('Titans Reader');
if (!app.requestSingleInstanceLock()) app.quit();

let core: Core | null = null;
let window: BrowserWindow | null = null;

/** --data DIR, else $TITANS_READER_DATA, else Electron's userData folder (the same default as the CLI). */
function dataDir(): string {
  const explicit = dataDirFromArgs(process.argv);
  return explicit || process.env.TITANS_READER_DATA ? resolveDataDir(explicit) : app.getPath('userData');
}

/** The native open dialog. What it returns is all the renderer may then ask the core to read (core/grants.ts). */
async function openFilesDialog({ folders }: { folders: boolean }): Promise<string[]> {
  const options: Electron.OpenDialogOptions = folders
    ? { title: 'Choose folders', properties: ['openDirectory', 'multiSelections'] }
    : {
        title: 'Add to the library',
        properties: ['openFile', 'multiSelections'],
        filters: [
          { name: 'Text and Markdown', extensions: ['txt', 'text', 'md', 'markdown'] },
          { name: 'All files', extensions: ['*'] },
        ],
      };
  const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
  return result.canceled ? [] : result.filePaths;
}

async function createWindow(): Promise<void> {
  core = createCore({ dataDir: dataDir(), transport: 'electron', openFilesDialog, reading: { autoRead: true } });
  const win = new BrowserWindow(mainWindowOptions(path.join(here, 'preload.cjs'), { devTools: !app.isPackaged }));
  window = win;
  const unbridge = bridgeApi(ipcMain, core.server, win, rendererUrl, core.grants);
  // Nothing may navigate the window away from the app or open new windows.
  win.webContents.on('will-navigate', (e, url) => {
    if (url.split('#')[0] !== rendererUrl) e.preventDefault();
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    unbridge();
    window = null;
  });
  await win.loadURL(rendererUrl);
}

app.on('second-instance', () => {
  if (!window) return;
  if (window.isMinimized()) window.restore();
  window.focus();
});

app.on('web-contents-created', (_e, contents) => {
  contents.on('will-attach-webview', (e) => e.preventDefault());
});

app.whenReady().then(async () => {
  session.defaultSession.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  const showLibraryFolder = () => {
    const dir = core?.info.dataDir;
    if (dir) void shell.openPath(dir);
  };
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate({ packaged: app.isPackaged, platform: process.platform, showLibraryFolder })));
  try {
    await createWindow();
  } catch (e) {
    dialog.showErrorBox('Titans Reader cannot start', e instanceof ApiError ? `${e.message}\n\n${e.hint ?? ''}` : String(e));
    app.quit();
  }
});

app.on('window-all-closed', () => {
  // A reading in progress pauses with a checkpoint before the app quits; it resumes on the next start.
  const closing = core?.close();
  core = null;
  void Promise.resolve(closing).finally(() => app.quit());
});

