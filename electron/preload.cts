// The preload (sandboxed, CommonJS): exposes exactly one object to the renderer, a message bridge
// that carries the typed API's RPC messages (core/rpc/rpc.ts), and the paths of files the user dropped. No Node, no
// raw ipcRenderer, no other channel.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';

const REQUEST_CHANNEL = 'titans:request';
const MESSAGE_CHANNEL = 'titans:message';
const DROPPED_CHANNEL = 'titans:dropped-paths';

let receiver: ((message: unknown) => void) | null = null;
ipcRenderer.on(MESSAGE_CHANNEL, (_event: IpcRendererEvent, message: unknown) => receiver?.(message));

contextBridge.exposeInMainWorld('titansBridge', {
  send(message: unknown): void {
    // Only a call or a cancel goes through; the main process validates them fully.
    const kind = typeof message === 'object' && message !== null ? (message as { rpc?: unknown }).rpc : undefined;
    if (kind !== 'call' && kind !== 'cancel') return;
    ipcRenderer.send(REQUEST_CHANNEL, message);
  },
  onMessage(receive: (message: unknown) => void): void {
    receiver = receive;
  },
  /**
   * The paths of files the user dropped (or picked in a file input), which the core may then import
   * by path. It takes File objects, never paths: Electron gives a path only for a File the user
   * chose, so page script cannot make up one (see electron/ipc.ts). Resolves to the paths granted.
   */
  async grantDropped(files: unknown): Promise<string[]> {
    const paths: string[] = [];
    for (const file of Array.isArray(files) ? files.slice(0, 1000) : []) {
      try {
        const p = webUtils.getPathForFile(file as File);
        if (p) paths.push(p);
      } catch {
        // not a File
      }
    }
    if (paths.length === 0) return [];
    const granted: unknown = await ipcRenderer.invoke(DROPPED_CHANNEL, paths);
    return Array.isArray(granted) ? granted.filter((p): p is string => typeof p === 'string') : [];
  },
});
