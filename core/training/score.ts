// Surprisal of a passage under several model versions, in a short-lived worker (TensorFlow.js
// stays off the core's thread), called over the RPC (core/rpc/rpc.ts).
import { workerPort } from '../rpc/node-ports.js';
import { createRpcClient, type ResultOf } from '../rpc/rpc.js';
import { spawnWorker } from '../spawn-worker.js';
import { TrainerContract } from './protocol.js';

export type Scored = ResultOf<TrainerContract['score']>;

export async function scoreText(modelFiles: string[], text: string, backend?: string): Promise<Scored> {
  const worker = spawnWorker(import.meta.url, 'worker', null);
  const rpc = createRpcClient(workerPort(worker), TrainerContract, { peer: 'the scoring worker' });
  try {
    return await rpc.call('score', { modelFiles, text, ...(backend ? { backend } : {}) });
  } finally {
    void worker.terminate();
  }
}
