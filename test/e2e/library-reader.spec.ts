// The whole path a newcomer takes: import a long book through the UI, find it, open it, jump to a
// chapter, search a phrase, scroll to the end; and bad files fail alone with a clear message.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { makeBook } from '../fixtures/texts.js';
import { ARTIFACTS, expect, test } from './host.js';

const PHRASE = 'the cartographer folded her violet umbrella';

function writeBook(dir: string): { file: string; text: string } {
  let text = makeBook({ chapters: 40, paragraphsPerChapter: 185, seed: 42, title: 'A Long Generated Book' });
  text = text.replace('CHAPTER 27\n\n', `CHAPTER 27\n\nAt dawn ${PHRASE} and left.\n`);
  const file = path.join(dir, 'long-book.txt');
  fs.writeFileSync(file, text);
  return { file, text };
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Is an element's box inside the reader's viewport? */
async function inViewport(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((sel) => {
    const vp = document.querySelector('[data-testid=reader-viewport]')!.getBoundingClientRect();
    const el = document.querySelector(sel);
    if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.bottom > vp.top && r.top < vp.bottom;
  }, selector);
}

test('import a 2 MB book, open it, jump to a chapter, find a phrase, scroll to the end', async ({ page, host }) => {
  const { file, text } = writeBook(host.workDir);
  expect(text.length).toBeGreaterThan(2_000_000);
  await page.goto(host.url);
  await expect(page.getByRole('heading', { name: 'Library' })).toBeVisible();
  await expect(page.getByText('Your library is empty.')).toBeVisible();

  await page.getByTestId('file-input').setInputFiles(file);
  const row = page.getByTestId('doc-row').filter({ hasText: 'A Long Generated Book' });
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row).toContainText('Test Fixture');
  await expect(row).toContainText(text.length.toLocaleString('en'));
  await shot(page, '01-library');
  await expect(page.getByTestId('job')).toHaveCount(0, { timeout: 5000 }); // finished work leaves the panel

  const opened = Date.now();
  await row.getByRole('button', { name: 'A Long Generated Book', exact: true }).click();
  await expect(page.locator('.reader-text.block').first()).toContainText('Title: A Long Generated Book');
  console.log(`2 MB book: reader showed its first text ${Date.now() - opened} ms after the click`);
  await expect(page.locator('.chapters li')).toHaveCount(40);
  // only a few blocks of the 2 MB are in the DOM
  const rendered = await page.locator('.reader-text.block').count();
  expect(rendered).toBeLessThan(12);
  await shot(page, '02-reader-open');

  await page.getByRole('button', { name: 'CHAPTER 33', exact: true }).click();
  await expect.poll(() => page.evaluate(() => [...document.querySelectorAll('.reader-text.block')].some((b) => b.textContent!.includes('CHAPTER 33')))).toBe(true);
  await expect.poll(() => page.locator('.chapter-link.active').textContent()).toBe('CHAPTER 33');
  await expect(page.locator('.statusbar')).toContainText('CHAPTER 33');
  await shot(page, '03-chapter-33');

  const find = page.getByLabel('Find in document');
  await find.fill('violet umbrella');
  await find.press('Enter');
  await expect(page.getByTestId('find-status')).toHaveText('1 of 1');
  await expect(page.locator('mark.current')).toHaveText('violet umbrella');
  await expect.poll(() => inViewport(page, 'mark.current')).toBe(true); // the reader scrolls once the target's block is loaded
  await expect(page.locator('.chapter-link.active')).toHaveText('CHAPTER 27');
  await shot(page, '04-find');

  await find.fill('lighthouse keeper');
  await find.press('Enter');
  await expect(page.getByTestId('find-status')).toHaveText(/^\d+ of 40$/);
  const firstStatus = await page.getByTestId('find-status').textContent();
  await find.press('Enter');
  await expect(page.getByTestId('find-status')).not.toHaveText(firstStatus!);
  await expect.poll(() => inViewport(page, 'mark.current')).toBe(true);

  await page.getByRole('button', { name: 'End', exact: true }).click();
  await expect.poll(() => page.getByTestId('reader-percent').textContent(), { timeout: 10_000 }).toBe('100%');
  await expect.poll(() => page.evaluate(() => [...document.querySelectorAll('.reader-text.block')].some((b) => b.textContent!.includes('THE END')))).toBe(true);
  expect(await page.evaluate(() => {
    const vp = document.querySelector('[data-testid=reader-viewport]')!;
    return Math.abs(vp.scrollTop + vp.clientHeight - vp.scrollHeight) < 2;
  })).toBe(true);
  await expect(page.locator('.chapter-link.active')).toHaveText('CHAPTER 40');
  await shot(page, '05-end');
});

test('a bad file fails alone with a clear message; delete asks first', async ({ page, host }) => {
  const good = path.join(host.workDir, 'notes.md');
  fs.writeFileSync(good, '# Notes\n\nSome text.\n\n## Later\n\nMore.\n');
  const pdf = path.join(host.workDir, 'report.txt');
  fs.writeFileSync(pdf, '%PDF-1.7\n1 0 obj\n<<>>\nendobj\n');
  const empty = path.join(host.workDir, 'empty.txt');
  fs.writeFileSync(empty, '');
  await page.goto(host.url);

  await page.getByTestId('file-input').setInputFiles([good, pdf, empty]);
  await expect(page.getByTestId('doc-row')).toHaveCount(1);
  await expect(page.getByTestId('notice').filter({ hasText: 'Could not import report.txt' })).toContainText(/report\.txt (is not a valid PDF|could not be opened as a PDF)/);
  await expect(page.getByTestId('notice').filter({ hasText: 'Could not import empty.txt' })).toContainText('is empty');
  await shot(page, '06-bad-files');

  // a file dropped onto the library imports too
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['Dropped text.\nSecond line.\n'], 'dropped.txt', { type: 'text/plain' }));
    document.querySelector('.library')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(page.getByTestId('doc-row')).toHaveCount(2);

  await page.getByRole('button', { name: 'Delete Notes' }).click();
  await expect(page.getByRole('dialog')).toContainText('Delete “Notes”?');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('doc-row')).toHaveCount(2);
  await page.getByRole('button', { name: 'Delete Notes' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('doc-row')).toHaveCount(1);
  await expect(page.getByTestId('doc-row')).toContainText('dropped');
});

test('the API refuses a WebSocket without the token', async ({ page, host }) => {
  const port = new URL(host.url).port;
  await page.goto(`http://127.0.0.1:${port}/`);
  // No token in the address: the page says what to do instead of failing silently.
  await expect(page.getByRole('alert')).toContainText('access token');
  const result = await page.evaluate(
    (p) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${p}/api?token=wrong`);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      }),
    port,
  );
  expect(result).toBe('refused');
});
