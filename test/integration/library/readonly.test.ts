// The model worker's connection (openReadonlyDatabase) reads the library and cannot write it: the
// readings it computes come back to the main thread as writes (core/library/readings.ts).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, openReadonlyDatabase } from '../../../core/library/database.js';
import { tempDir } from '../../fixtures/texts.js';

const dir = tempDir('titans-readonly-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('openReadonlyDatabase', () => {
  it('reads what the main connection wrote, refuses every write, and refuses a missing library', () => {
    const file = path.join(dir, 'library.sqlite');
    const main = openDatabase(file);
    const reader = openReadonlyDatabase(file);
    try {
      const count = () => reader.prepare(`SELECT count(*) FROM readings`).pluck().get();
      expect(count()).toBe(0);
      expect(() => reader.prepare(`DELETE FROM readings`).run()).toThrow(/readonly/i);
      expect(() => reader.prepare(`INSERT INTO models (id, name, file, arch, parameters, config, tokenizer, trained, added_at) VALUES ('m', 'm', 'f', 'mac', 1, '{}', '{}', 1, 'now')`).run()).toThrow(/readonly/i);
      main.prepare(`INSERT INTO models (id, name, file, arch, parameters, config, tokenizer, trained, added_at) VALUES ('m', 'm', 'f', 'mac', 1, '{}', '{}', 1, 'now')`).run();
      expect(reader.prepare(`SELECT count(*) FROM models`).pluck().get()).toBe(1);
    } finally {
      reader.close();
      main.close();
    }
    expect(() => openReadonlyDatabase(path.join(dir, 'missing.sqlite'))).toThrow();
  });
});
