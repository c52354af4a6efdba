// Training data is read whole, with the importer's encoding rules.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { readTextFile } from '../../../core/ingest/read-text.js';
import { encode, RUSSIAN, tempDir, writeFile } from '../../fixtures/texts.js';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readTextFile', () => {
  it('decodes UTF-16, and a legacy code page that follows a long ASCII start, with LF line ends', () => {
    expect(readTextFile(writeFile(dir, 'u16.txt', encode('a\r\nb\r\n' + RUSSIAN, 'utf-16le', true)))).toBe('a\nb\n' + RUSSIAN);
    const ascii = 'plain ascii line\n'.repeat(5000);
    const bytes = Buffer.concat([Buffer.from(ascii), encode(RUSSIAN.repeat(10), 'windows-1251')]);
    expect(readTextFile(writeFile(dir, 'late.txt', bytes))).toBe(ascii + RUSSIAN.repeat(10));
  });

  it('refuses empty and binary files', () => {
    expect(() => readTextFile(writeFile(dir, 'empty.txt', ''))).toThrow(/empty/);
    expect(() => readTextFile(writeFile(dir, 'x.txt', '%PDF-1.7\n'))).toThrow(/looks like a PDF/);
  });
});
