// The preload (sandboxed, CommonJS): exposes exactly one object to the renderer, a message bridge
// that carries the typed API's wire format. No Node, no raw ipcRenderer, no other channel.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

const REQUEST_CHANNEL = 'titans:request';
const MESSAGE_CHANNEL = 'titans:message';

let receiver: ((message: unknown) => void) | null = null;
ipcRenderer.on(MESSAGE_CHANNEL, (_event: IpcRendererEvent, message: unknown) => receiver?.(message));

contextBridge.exposeInMainWorld('titansBridge', {
  send(message: unknown): void {
    // Only plain request objects go through; the main process validates them fully.
    if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'request') return;
    ipcRenderer.send(REQUEST_CHANNEL, message);
  },
  onMessage(receive: (message: unknown) => void): void {
    receiver = receive;
  },
});
