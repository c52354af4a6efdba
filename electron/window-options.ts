// The main window's settings: the renderer is sandboxed, isolated from the preload's world, and
// has no Node. Kept apart from main.ts so a test can check them without Electron.
import type { BrowserWindowConstructorOptions } from 'electron';

/** devTools: false in the packaged app (app.isPackaged), so not even a shortcut opens them. */
export function mainWindowOptions(preloadPath: string, opts: { devTools: boolean } = { devTools: true }): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 860,
    title: 'Titans Reader',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: opts.devTools,
    },
  };
}

/** Only the app's own files are loaded; the app makes no network requests at all. */
export function isAllowedRequest(url: string): boolean {
  return url.startsWith('file:') || url.startsWith('devtools:');
}
