// Finds the core: the Electron preload's bridge when present, else the browser host's WebSocket.
// Either way the UI gets the same typed client over the one RPC (core/rpc/api-client.ts); it never
// sees raw IPC.
import type { ApiClient } from '../../../core/api/client';
import { createRpcApiClient } from '../../../core/rpc/api-client';
import { channelPort, webSocketPort } from '../../../core/rpc/ports';

/** What electron/preload.cts exposes through contextBridge. */
export interface ElectronBridge {
  send(message: unknown): void;
  onMessage(receive: (message: unknown) => void): void;
  /** The paths of files the user dropped, granted to the core for import by path (electron/ipc.ts). */
  grantDropped?(files: File[]): Promise<string[]>;
}

declare global {
  interface Window {
    titansBridge?: ElectronBridge;
  }
}

const TOKEN_KEY = 'titans-reader-token';

export async function connect(): Promise<ApiClient> {
  const bridge = window.titansBridge;
  if (bridge) {
    return createRpcApiClient(
      channelPort({
        send: (m) => bridge.send(m),
        subscribe: (listener) => {
          bridge.onMessage(listener);
          return () => bridge.onMessage(() => {});
        },
      }),
    );
  }
  return connectWebSocket();
}

function takeToken(): string | null {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    history.replaceState(null, '', location.pathname + location.search + '#/library');
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function connectWebSocket(): Promise<ApiClient> {
  const token = takeToken();
  if (!token) return Promise.reject(new Error('This page needs the address printed by the host, which includes its access token. Open that address again.'));
  const ws = new WebSocket(`ws://${location.host}/api?token=${encodeURIComponent(token)}`);
  const client = createRpcApiClient(webSocketPort(ws)); // the port's close rejects every call still waiting
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(client);
    ws.onerror = () => reject(new Error('Cannot reach the Titans Reader host. Is it still running? Start it again and open the address it prints.'));
    ws.onclose = () => {
      client.close('The connection to the Titans Reader host was lost.');
      window.dispatchEvent(new CustomEvent('titans-disconnected'));
    };
  });
}
