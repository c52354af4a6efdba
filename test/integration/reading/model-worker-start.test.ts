// The model worker's start over the RPC ('ready'): a model that cannot load rejects it with why, the
// worker exits, and the next use tries again.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCore } from '../../../core/app.js';
import { tempDir } from '../../fixtures/texts.js';

const dir = tempDir('titans-worker-start-');
const core = createCore({ dataDir: path.join(dir, 'data'), transport: 'in-process', reading: { modelFile: path.join(dir, 'missing.trd'), backend: 'wasm' } });
afterAll(async () => {
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the model worker start', () => {
  it('rejects with the reason when the model cannot load, and tries again on the next use', async () => {
    const first = await core.reading.model().catch((e: unknown) => e);
    expect(first).toMatchObject({ code: expect.stringMatching(/unavailable|not_found|internal/) });
    expect(String((first as Error).message)).toMatch(/missing\.trd|could not/);
    await expect(core.reading.recall('a cue', undefined, 3)).rejects.toThrow();
  });
});
