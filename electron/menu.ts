// The application menu: the usual roles, and a way to find the library on disk. The packaged app
// has no DevTools and no reload: they would hand whoever sits at the window a console inside the
// renderer (and reload drops the state of a running import). Kept free of Electron's runtime so a
// test can check the template without an Electron binary.
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuOptions {
  /** app.isPackaged: no DevTools, no reload */
  packaged: boolean;
  platform: NodeJS.Platform;
  showLibraryFolder: () => void;
}

export function menuTemplate(opts: MenuOptions): MenuItemConstructorOptions[] {
  const develop: MenuItemConstructorOptions[] = opts.packaged ? [] : [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }];
  return [
    ...(opts.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [...develop, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }],
    },
    { role: 'windowMenu' },
    { label: 'Help', submenu: [{ label: 'Show the library folder', click: opts.showLibraryFolder }] },
  ];
}
