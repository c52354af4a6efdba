// Message ports for the RPC (rpc.ts) over worker threads: the core's side (a Worker: its exit or
// error closes the port) and the worker's side (parentPort, or either end of a MessageChannel).
import type { MessagePort, Worker } from 'node:worker_threads';
import type { RpcPort } from './rpc.js';

/** The core's side of a worker thread: the worker exiting (or failing) closes the port. */
export function workerPort(worker: Worker): RpcPort {
  return {
    post: (message) => worker.postMessage(message),
    onMessage(listener) {
      worker.on('message', listener);
      return () => worker.off('message', listener);
    },
    onClose(listener) {
      const onExit = (code: number) => listener(`exit code ${code}`);
      const onError = (e: Error) => listener(e.message);
      worker.on('exit', onExit);
      worker.on('error', onError);
      return () => {
        worker.off('exit', onExit);
        worker.off('error', onError);
      };
    },
  };
}

/** A MessagePort (a worker's parentPort, or an end of a MessageChannel): its closing closes the port. */
export function messagePort(port: MessagePort): RpcPort {
  return {
    post: (message) => port.postMessage(message),
    onMessage(listener) {
      port.on('message', listener);
      return () => port.off('message', listener);
    },
    onClose(listener) {
      const l = () => listener('the channel closed');
      port.on('close', l);
      return () => port.off('close', l);
    },
  };
}
