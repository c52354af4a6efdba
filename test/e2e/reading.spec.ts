// Every format imports through the UI with its positions, and each document is read into the
// model's memory in the background: progress with tokens/s, pause and resume from the library,
// and the reader shows the page. Runs against a host that reads on import (the app's default).
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { makeDocumentFixtures } from '../fixtures/documents/make.js';
import { makeBook } from '../fixtures/texts.js';
import { ARTIFACTS, expect, test } from './host.js';

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

test('documents of every format import and are read into memory, with pause and resume', async ({ page, readingHost: host }) => {
  test.setTimeout(180_000);
  const f = await makeDocumentFixtures(host.workDir);
  const book = path.join(host.workDir, 'memory-book.txt');
  fs.writeFileSync(book, makeBook({ chapters: 6, paragraphsPerChapter: 40, seed: 8, title: 'Memory Book' }));
  await page.goto(host.url);

  // The long text first: the queue reads in order, so it is the one read while we watch.
  await page.getByTestId('file-input').setInputFiles(book);
  const bookRow = page.getByTestId('doc-row').filter({ hasText: 'Memory Book' });
  await expect(bookRow).toBeVisible();
  const job = page.getByTestId('job').filter({ hasText: 'Reading “Memory Book” into memory' });
  await expect(job).toContainText(/tokens\/s/, { timeout: 60_000 });
  await expect(job).toContainText(/left/);
  await expect(bookRow.getByTestId('memory-status')).toContainText(/Reading \d+%/);
  await shot(page, '10-reading-progress');

  await bookRow.getByRole('button', { name: 'Pause' }).click();
  await expect(bookRow.getByTestId('memory-status')).toHaveAttribute('data-status', 'paused', { timeout: 20_000 });
  await expect(bookRow.getByTestId('memory-status')).toContainText(/Paused at \d+%/);
  await shot(page, '11-reading-paused');

  const notes = path.join(host.workDir, 'field-notes.md');
  fs.writeFileSync(notes, '# Field Notes\n\nThe cormorants returned on the ninth of March.\n\n## Later\n\nThe ice broke early.\n');
  await page.getByTestId('file-input').setInputFiles([f.pdf, f.epub3, f.docx, f.html, notes, f.pdfEncrypted]);
  await expect(page.getByTestId('doc-row')).toHaveCount(6);
  await expect(page.getByTestId('notice').filter({ hasText: 'Could not import secret.pdf' })).toContainText('protected by a password');
  const pdfRow = page.getByTestId('doc-row').filter({ hasText: 'The Keeper Ledger' });
  await expect(pdfRow).toContainText(/PDF\s*\(4 pages\)/);
  await expect(page.getByTestId('doc-row').filter({ hasText: 'EPUB' })).toHaveCount(1);
  await expect(page.getByTestId('doc-row').filter({ hasText: 'Word' })).toHaveCount(1);
  await expect(page.getByTestId('doc-row').filter({ hasText: 'HTML' })).toHaveCount(1);
  await expect(page.getByTestId('doc-row').filter({ hasText: 'Markdown' })).toHaveCount(1);

  // The new documents are read; then the paused book resumes where it stopped.
  const statuses = page.getByTestId('memory-status');
  await expect(statuses.and(page.locator('[data-status=done]'))).toHaveCount(5, { timeout: 120_000 });
  await bookRow.getByRole('button', { name: 'Resume' }).click();
  await expect(bookRow.getByTestId('memory-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(bookRow.getByTestId('memory-status')).toHaveText(/^Read/);
  await shot(page, '12-all-read');

  // The reader shows the PDF's own page labels as you move through it.
  await pdfRow.getByRole('button', { name: 'The Keeper Ledger', exact: true }).click();
  await expect(page.getByTestId('reader-page')).toHaveText('page i of 4');
  await page.getByRole('button', { name: 'The Long Spring', exact: true }).click();
  await expect(page.getByTestId('reader-page')).toHaveText('page 1 of 4');
  await shot(page, '13-pdf-page');
});
