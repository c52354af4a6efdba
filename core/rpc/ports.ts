// Message ports for the RPC (rpc.ts) over the transports a page also has: a WebSocket (the
// browser's, or the `ws` package's, which has the same addEventListener API) and a channel given
// as functions (Electron IPC: the preload bridge in the page, webContents/ipcMain in the main
// process). Structural types only, so nothing here needs the DOM, Node or Electron.
import type { RpcPort } from './rpc.js';

/** The part of a WebSocket the port uses (the browser's WebSocket and ws's both have it). */
export interface WebSocketLike {
  send(data: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}

/** JSON text frames over a WebSocket; a frame that is not JSON reaches the RPC as itself, which rejects it. */
export function webSocketPort(socket: WebSocketLike): RpcPort {
  return {
    post: (message) => socket.send(JSON.stringify(message)),
    onMessage(listener) {
      const l = (event: { data: unknown }) => {
        const text = typeof event.data === 'string' ? event.data : String(event.data);
        let message: unknown;
        try {
          message = JSON.parse(text);
        } catch {
          message = text;
        }
        listener(message);
      };
      socket.addEventListener('message', l);
      return () => socket.removeEventListener('message', l);
    },
    onClose(listener) {
      const l = (event: { code: number; reason: string }) => listener(`connection closed, code ${event.code}${event.reason ? `: ${event.reason}` : ''}`);
      socket.addEventListener('close', l);
      return () => socket.removeEventListener('close', l);
    },
  };
}

/** A channel given as functions: Electron IPC (structured clone, so no JSON), or anything alike. */
export function channelPort(channel: {
  send(message: unknown): void;
  /** returns a function that stops listening */
  subscribe(listener: (message: unknown) => void): () => void;
  /** returns a function that stops listening; absent: the channel never closes (the page's side of IPC) */
  subscribeClose?(listener: (why: string) => void): () => void;
}): RpcPort {
  return {
    post: (message) => channel.send(message),
    onMessage: (listener) => channel.subscribe(listener),
    onClose: (listener) => channel.subscribeClose?.(listener) ?? (() => {}),
  };
}
