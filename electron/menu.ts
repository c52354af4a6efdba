// The application menu: the usual roles, and a way to find the library on disk.
import { Menu, shell, type MenuItemConstructorOptions } from 'electron';

export function buildMenu(dataDir: () => string | null): Menu {
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }],
    },
    { role: 'windowMenu' },
    {
      label: 'Help',
      submenu: [
        {
          label: 'Show the library folder',
          click: () => {
            const dir = dataDir();
            if (dir) void shell.openPath(dir);
          },
        },
      ],
    },
  ];
  return Menu.buildFromTemplate(template);
}
