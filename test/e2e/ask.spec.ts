// Ask across books: a planted fact in one of two generated books is found; the answer shown first
// is the sentence that answers, with its book, chapter and line, highlighted inside its cited
// passage; clicking it opens the reader there with the sentence highlighted; the model's own answer
// follows; the citation opens the reader at the passage; a question nothing answers says so; the
// history keeps the answering sentence.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { makeBook } from '../fixtures/texts.js';
import { ARTIFACTS, expect, test } from './host.js';

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

const FACT = 'The cartographer kept her violet umbrella in the lighthouse cellar.';

test('a question finds the planted fact, and its citation opens the reader there, highlighted', async ({ page, host }) => {
  const a = makeBook({ chapters: 30, paragraphsPerChapter: 20, seed: 51, title: 'Atlas Book' }).replace('CHAPTER 24\n\n', `CHAPTER 24\n\n${FACT}\n\n`);
  const b = makeBook({ chapters: 10, paragraphsPerChapter: 20, seed: 52, title: 'Other Book' });
  const fa = path.join(host.workDir, 'atlas.txt');
  const fb = path.join(host.workDir, 'other.txt');
  fs.writeFileSync(fa, a);
  fs.writeFileSync(fb, b);
  await page.goto(host.url);
  await page.getByTestId('file-input').setInputFiles([fa, fb]);
  await expect(page.getByTestId('doc-row')).toHaveCount(2);

  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.getByLabel('Question', { exact: true }).fill('Where did the cartographer keep her umbrella?');
  await page.getByRole('button', { name: 'Ask', exact: true }).last().click();
  // the answer is the sentence, with its citation
  const sentence = page.getByTestId('answer-sentence').first();
  await expect(sentence).toContainText(FACT);
  const sStart = Number(await sentence.getAttribute('data-start'));
  const sEnd = Number(await sentence.getAttribute('data-end'));
  expect(a.slice(sStart, sEnd)).toBe(FACT);
  const citation = page.getByTestId('answer-citation').first();
  await expect(citation).toContainText('Atlas Book');
  await expect(citation).toContainText('CHAPTER 24');
  await expect(citation).toContainText(`line ${a.slice(0, sStart).split('\n').length.toLocaleString('en')}`);
  await expect(citation).toContainText('passage 1');
  await expect(citation).toContainText(/\d+% sure it answers/);
  // a short answer only when confident; otherwise the passages may hold it
  await expect(page.getByTestId('short-answer-line').or(page.getByTestId('may-hold'))).toBeVisible();
  if (await page.getByTestId('short-answer-line').isVisible()) await expect(sentence.getByTestId('short-answer')).toBeVisible();
  const first = page.getByTestId('citation').first();
  await expect(first).toContainText('violet umbrella');
  await expect(first).toContainText('Atlas Book');
  await expect(first).toContainText('CHAPTER 24');
  const start = Number(await first.getAttribute('data-start'));
  const end = Number(await first.getAttribute('data-end'));
  expect(a.slice(start, end)).toContain(FACT);
  // highlighted inside the cited passage
  await expect(first.getByTestId('citation-answer')).toHaveText(FACT);
  // the model answers from the book that holds the passages (not read into memory here: it says so)
  const answer = page.getByTestId('book-answer').first();
  await expect(answer).toContainText('Atlas Book:', { timeout: 60_000 });
  await expect(answer).toContainText('the book is not read into memory yet');
  // kept to the passages' words: whatever this model picks, it is taken from a cited passage
  await expect(answer).toHaveAttribute('data-decoding', 'copy');
  await expect(answer).toHaveAttribute('data-supported', 'true');
  await expect(answer).toContainText(/taken from passages? \d/);
  await shot(page, '30-ask');

  await first.click();
  // the passage, and the sentence that answers within it
  await expect(page).toHaveURL(new RegExp(`#/reader/\\d+@${start}-${end}~${sStart}-${sEnd}$`));
  await expect.poll(async () => Number(await page.getByTestId('reader-viewport').getAttribute('data-cited'))).toBeGreaterThan(0);
  await expect(page.locator('.statusbar')).toContainText('CHAPTER 24');
  const highlighted = await page.evaluate(`[...CSS.highlights.get('citation')].map((r) => r.toString()).join('')`);
  expect(highlighted).toContain(FACT);
  // and the sentence that answers, within it
  await expect.poll(async () => Number(await page.getByTestId('reader-viewport').getAttribute('data-answer'))).toBeGreaterThan(0);
  expect(await page.evaluate(`[...CSS.highlights.get('answer')].map((r) => r.toString()).join('')`)).toBe(FACT);
  await shot(page, '31-citation-opened');

  // the answering sentence itself opens the reader there, highlighted
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.getByTestId('history-entry').first().getByRole('button', { name: 'Where did the cartographer keep her umbrella?', exact: true }).click();
  await page.getByTestId('answer-sentence').first().getByRole('button').click();
  await expect(page).toHaveURL(new RegExp(`#/reader/\\d+@${start}-${end}~${sStart}-${sEnd}$`));
  await expect.poll(async () => Number(await page.getByTestId('reader-viewport').getAttribute('data-answer'))).toBeGreaterThan(0);
  expect(await page.evaluate(`[...CSS.highlights.get('answer')].map((r) => r.toString()).join('')`)).toBe(FACT);

  // one book only: the fact is not in it
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.getByRole('button', { name: 'Other Book' }).click();
  await page.getByLabel('Question', { exact: true }).fill('violet umbrella cartographer');
  await page.getByRole('button', { name: 'Ask', exact: true }).last().click();
  await expect(page.getByTestId('not-found')).toContainText('Not found in these books');

  // the history keeps both questions, newest first; search, reopen, delete
  const entries = page.getByTestId('history-entry');
  await expect(entries).toHaveCount(2);
  await expect(entries.first()).toContainText('violet umbrella cartographer');
  // the history keeps the answering sentence
  await expect(entries.nth(1).getByTestId('history-answer')).toContainText('violet umbrella in the lighthouse cellar');
  await page.getByLabel('Search the questions').fill('keep');
  await expect(entries).toHaveCount(1);
  await entries.first().getByRole('button', { name: 'Where did the cartographer keep her umbrella?', exact: true }).click();
  await expect(page.getByTestId('citation').first()).toContainText('violet umbrella');
  await expect(page.getByTestId('answer-sentence').first()).toContainText(FACT);
  await shot(page, '32-ask-history');
  await entries.first().getByRole('button', { name: /^Forget/ }).click();
  await expect(entries).toHaveCount(0);
  await page.getByLabel('Search the questions').fill('');
  await expect(entries).toHaveCount(1);

  // the model reranks the passages (a question many passages share words with): it says so, and
  // the planted fact is still among them
  await page.getByRole('button', { name: 'All books' }).click();
  await page.getByLabel('Model reranks the passages').check();
  await page.getByLabel('Question', { exact: true }).fill('Which lantern window held the cartographer umbrella?');
  await page.getByRole('button', { name: 'Ask', exact: true }).last().click();
  await expect(page.getByTestId('ask-result')).toContainText('reranked by the model', { timeout: 60_000 });
  await expect(page.getByTestId('citation')).toHaveCount(8);
  await expect(page.getByTestId('citation').filter({ hasText: 'violet umbrella' })).toHaveCount(1);
});
