import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataDirFromArgs, defaultDataDir, resolveDataDir } from '../../../core/paths.js';
import { cli } from './run-cli.js';
import { makeBook, tempDir, writeFile } from '../../fixtures/texts.js';

const root = path.resolve(import.meta.dirname, '../../..');
let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));


describe('titans-reader CLI', () => {
  it('imports, lists and shows documents in the folder given by --data', async () => {
    const data = path.join(dir, 'lib');
    const book = writeFile(dir, 'book.txt', makeBook({ chapters: 3, paragraphsPerChapter: 2, title: 'CLI Book' }));
    const bad = writeFile(dir, 'bad.txt', '');
    const imported = await cli('import', book, bad, '--data', data);
    expect(imported.code).toBe(1); // one of two failed
    expect(imported.out).toMatch(/book\.txt: imported as #1 "CLI Book" \(text, .* characters, 3 chapters, utf-8\)/);
    expect(imported.err).toMatch(/bad\.txt: bad\.txt is empty/);
    const list = await cli('list', `--data=${data}`);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^ID\s+Title\s+Author/);
    expect(list.out).toMatch(/1\s+CLI Book\s+Test Fixture\s+text/);
    const show = await cli('show', '1', '--data', data);
    expect(show.out).toContain('#1 CLI Book by Test Fixture');
    expect(show.out).toContain('CHAPTER 3  (line');
    expect((await cli('show', '7', '--data', data)).err).toMatch(/Document 7 is not in the library/);
    expect(fs.existsSync(path.join(data, 'library.sqlite'))).toBe(true);
  });

  it('prints usage for no command and an unknown one', async () => {
    expect((await cli()).code).toBe(2);
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('Unknown command: frobnicate');
  });

  it('runs as `npx titans-reader` from a checkout, honouring TITANS_READER_DATA', () => {
    const data = path.join(dir, 'env-lib');
    const file = writeFile(dir, 'note.md', '# A Note\n\ntext\n');
    const env = { ...process.env, TITANS_READER_DATA: data };
    const bin = path.join(root, 'bin/titans-reader.mjs');
    execFileSync(process.execPath, [bin, 'import', file], { env, cwd: dir });
    const out = execFileSync(process.execPath, [bin, 'list'], { env, cwd: dir }).toString();
    expect(out).toMatch(/A Note\s+markdown/);
    const where = spawnSync(process.execPath, [bin, 'where'], { env, cwd: dir }).stdout.toString().trim();
    expect(where).toBe(path.join(data, 'library.sqlite'));
  });
});

describe('data folder', () => {
  it('prefers --data, then TITANS_READER_DATA, then the platform folder', () => {
    expect(dataDirFromArgs(['list', '--data', '/a'])).toBe('/a');
    expect(dataDirFromArgs(['--data=/b'])).toBe('/b');
    expect(dataDirFromArgs(['list'])).toBeNull();
    expect(resolveDataDir('/x', { TITANS_READER_DATA: '/y' })).toBe('/x');
    expect(resolveDataDir(null, { TITANS_READER_DATA: '/y' })).toBe('/y');
    expect(defaultDataDir('linux', { XDG_CONFIG_HOME: '/home/u/.config' })).toBe('/home/u/.config/Titans Reader');
    expect(defaultDataDir('win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' })).toContain('Titans Reader');
  });
});
