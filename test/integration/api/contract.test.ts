import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../core/api/client.js';
import { methodNames, methods } from '../../../core/api/contract.js';
import { createInProcessClient } from '../../../core/api/in-process.js';
import { createCore, type Core } from '../../../core/app.js';
import { tempDir } from '../../fixtures/texts.js';

let dir: string;
let core: Core;
beforeAll(() => {
  dir = tempDir();
  core = createCore({ dataDir: dir, transport: 'in-process' });
});
afterAll(async () => {
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('API contract', () => {
  it('has a params and a result schema for every method', () => {
    for (const m of methodNames) {
      expect(methods[m].params, m).toBeDefined();
      expect(methods[m].result, m).toBeDefined();
    }
  });

  it('validates params in-process exactly as over the wire', async () => {
    const api = createInProcessClient(core.server);
    const err = await api.call('doc.find', { id: 1, query: '' } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('bad_request');
    expect((err as RemoteError).message).toMatch(/Invalid doc\.find request/);
    const extra = await api.call('library.list', { sneaky: 1 } as never).catch((e: unknown) => e);
    expect((extra as RemoteError).code).toBe('bad_request');
    expect(await api.call('library.list', {})).toEqual([]);
  });

  it('results satisfy their schemas', async () => {
    const api = createInProcessClient(core.server);
    const info = await api.call('app.info', {});
    expect(methods['app.info'].result.safeParse(info).success).toBe(true);
    expect(info.features.nativeOpenDialog).toBe(false);
    const err = await api.call('dialog.openFiles', {}).catch((e: unknown) => e);
    expect((err as RemoteError).code).toBe('unavailable');
  });
});
