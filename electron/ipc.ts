// Joins the renderer's bridge to the core: the API over the one RPC (core/rpc/api-server.ts), its
// messages in on one channel and out on another, and one channel on which the preload reports the
// paths of files the user dropped on the window. Every message is validated by the RPC against the
// contract; only our own window's top frame, showing our own page, may send (a subframe, even one
// showing our page, may not).
// (Electron's objects are passed in, so this wiring is tested without an Electron binary.)
//
// Why the main process may trust the dropped paths (core/grants.ts): page script, the part that a
// malicious document could subvert, runs in the renderer's main world, which has no ipcRenderer
// (context isolation). It reaches this channel only through the preload's grantDropped(files),
// which takes File objects and asks Electron's webUtils.getPathForFile for their paths. Chromium
// attaches a path only to a File made from the user's own choice (a drop, a file input); a File
// made by script has none (''), so script cannot name a path the user did not give it. The
// payload is still validated here, and the sender checked like every request. A renderer
// compromised below the page (native code execution) could send anything; the sandbox, not this
// check, contains that.
import type { BrowserWindow, IpcMain, IpcMainEvent, IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { z } from 'zod';
import type { ApiServer } from '../core/api/server.js';
import { serveApi } from '../core/rpc/api-server.js';
import { channelPort } from '../core/rpc/ports.js';
import type { PathGrants } from '../core/grants.js';

export const REQUEST_CHANNEL = 'titans:request';
export const MESSAGE_CHANNEL = 'titans:message';
export const DROPPED_CHANNEL = 'titans:dropped-paths';

type Window = Pick<BrowserWindow, 'isDestroyed'> & { webContents: Pick<BrowserWindow['webContents'], 'send'> };

const DroppedPaths = z.array(z.string().min(1).max(4096).refine((p) => path.isAbsolute(p) && !p.includes('\0'))).max(1000);

export function bridgeApi(
  ipc: Pick<IpcMain, 'on' | 'off' | 'handle' | 'removeHandler'>,
  api: ApiServer,
  window: Window,
  rendererUrl: string,
  grants?: Pick<PathGrants, 'grantFiles'>,
): () => void {
  /** Our window, its top frame, our page: nothing else may talk to the core. */
  const fromApp = (event: IpcMainEvent | IpcMainInvokeEvent) => {
    const frame = event.senderFrame;
    return event.sender === window.webContents && !!frame && frame.parent === null && frame.url.split('#')[0] === rendererUrl;
  };
  let receive: (message: unknown) => void = () => {};
  const onRequest = (event: IpcMainEvent, raw: unknown) => {
    if (fromApp(event)) receive(raw);
  };
  const served = serveApi(
    channelPort({
      send: (message) => {
        if (!window.isDestroyed()) window.webContents.send(MESSAGE_CHANNEL, message);
      },
      subscribe: (listener) => {
        receive = listener;
        return () => (receive = () => {});
      },
    }),
    api,
  );
  /** The preload's report of dropped files' paths: granted, and echoed back (nothing when refused). */
  const onDropped = (event: IpcMainInvokeEvent, raw: unknown): string[] => {
    if (!fromApp(event) || !grants) return [];
    const parsed = DroppedPaths.safeParse(raw);
    if (!parsed.success) return [];
    grants.grantFiles(parsed.data);
    return parsed.data;
  };
  ipc.on(REQUEST_CHANNEL, onRequest);
  ipc.handle(DROPPED_CHANNEL, onDropped);
  return () => {
    ipc.off(REQUEST_CHANNEL, onRequest);
    ipc.removeHandler(DROPPED_CHANNEL);
    served.close(); // ends the page's event subscription and cancels what it had asked
  };
}
