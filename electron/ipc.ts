// Joins the renderer's bridge to the core: one request channel in, one message channel out.
// Every request is validated by the core's ApiServer; only our own window's top frame may send.
// (Electron's objects are passed in, so this wiring is tested without an Electron binary.)
import type { BrowserWindow, IpcMain, IpcMainEvent } from 'electron';
import type { ApiServer } from '../core/api/server.js';

export const REQUEST_CHANNEL = 'titans:request';
export const MESSAGE_CHANNEL = 'titans:message';

type Window = Pick<BrowserWindow, 'isDestroyed'> & { webContents: Pick<BrowserWindow['webContents'], 'send'> };

export function bridgeApi(ipc: Pick<IpcMain, 'on' | 'off'>, api: ApiServer, window: Window, rendererUrl: string): () => void {
  const onRequest = async (event: IpcMainEvent, raw: unknown) => {
    if (event.sender !== window.webContents || !event.senderFrame || event.senderFrame.url.split('#')[0] !== rendererUrl) return;
    const response = await api.handleWire(raw);
    if (response && !window.isDestroyed()) window.webContents.send(MESSAGE_CHANNEL, response);
  };
  ipc.on(REQUEST_CHANNEL, onRequest);
  const unsubscribe = api.events.subscribe((event, payload) => {
    if (!window.isDestroyed()) window.webContents.send(MESSAGE_CHANNEL, { type: 'event', event, payload });
  });
  return () => {
    ipc.off(REQUEST_CHANNEL, onRequest);
    unsubscribe();
  };
}
