// A real worker thread serving the test contract (rpc.test.ts); 'exit' in workerData: it exits
// as soon as it gets a call.
import { parentPort, workerData } from 'node:worker_threads';
import { messagePort } from '../../../core/rpc/node-ports.js';
import { serveRpc } from '../../../core/rpc/rpc.js';
import { TestContract, testHandlers } from './contract.js';

const port = parentPort!;
if ((workerData as { exitOnCall?: boolean }).exitOnCall) port.on('message', () => setTimeout(() => process.exit(3), 20));
serveRpc(messagePort(port), TestContract, testHandlers, { peer: 'the core' });
