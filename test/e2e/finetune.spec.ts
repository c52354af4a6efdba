// Fine-tuning in the app: a folder of the user's text files goes in through the folder picker,
// the loss curve grows live, held-out perplexity on that folder falls, and the new version can be
// chosen to read with, after which documents read by the old one are marked for re-reading.
import fs from 'node:fs';
import path from 'node:path';
import { writeTinyReaderModel } from '../fixtures/reader-model.js';
import { makeBook } from '../fixtures/texts.js';
import { ARTIFACTS, expect, startHost, stopHost, test } from './host.js';

test('fine-tuning on a folder lowers held-out perplexity, and the new version reads', async ({ page }) => {
  test.setTimeout(180_000);
  const work = fs.mkdtempSync(path.join(ARTIFACTS, '..', '.ft-'));
  const model = await writeTinyReaderModel(work);
  const folder = path.join(work, 'my-notes');
  fs.mkdirSync(folder);
  fs.writeFileSync(path.join(folder, 'a.txt'), makeBook({ chapters: 2, paragraphsPerChapter: 8, seed: 21, title: 'Notes A' }));
  fs.writeFileSync(path.join(folder, 'b.md'), makeBook({ chapters: 2, paragraphsPerChapter: 8, seed: 22, title: 'Notes B' }));
  const host = await startHost([], { TITANS_DEFAULT_MODEL: model }); // reads on import, with the tiny model as the default
  try {
    await page.goto(host.url);
    // a document read by the base model first
    await page.getByTestId('file-input').setInputFiles(path.join(folder, 'a.txt'));
    const row = page.getByTestId('doc-row').filter({ hasText: 'Notes A' });
    await expect(row.getByTestId('memory-status')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });

    await page.getByRole('button', { name: 'Models', exact: true }).click();
    await expect(page.getByTestId('model-row')).toHaveCount(1);
    await page.getByLabel('Name', { exact: true }).fill('My notes');
    await page.getByTestId('finetune-folder').setInputFiles(folder);
    await expect(page.getByText('2 files: ')).toBeVisible();
    await page.getByText('Advanced').click();
    await page.getByLabel('Steps').fill('40');
    await page.getByLabel('Learning rate').fill('0.01');
    await page.getByLabel('Tokens per window').fill('32');
    await page.getByRole('button', { name: 'Start fine-tuning' }).click();

    const run = page.getByTestId('finetune-run');
    await expect(run.getByTestId('finetune-stats')).toContainText(/tokens\/s/, { timeout: 60_000 });
    await expect(page.getByTestId('loss-chart')).toBeVisible();
    await expect(run).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    const before = Number(await run.getByTestId('ppl-before').textContent());
    const after = Number(await run.getByTestId('ppl-after').textContent());
    expect(after).toBeLessThan(before * 0.8);
    await page.screenshot({ path: path.join(ARTIFACTS, 'finetune.png'), fullPage: true });

    const made = page.getByTestId('model-row').filter({ hasText: 'My notes' });
    await expect(made.getByTestId('model-perplexity')).toContainText('→');
    await page.getByRole('button', { name: 'Use the new model for reading' }).click();
    await expect(made.getByTestId('reads-now')).toBeVisible();

    await page.getByRole('button', { name: 'Library', exact: true }).click();
    await expect(row.getByTestId('memory-status')).toHaveAttribute('data-status', 'other-model');
    await row.getByRole('button', { name: 'Re-read' }).click();
    await expect(row.getByTestId('memory-status')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });

    // a passage selected in the reader: the fine-tuned version finds its own data less surprising
    await row.getByRole('button', { name: 'Notes A', exact: true }).click();
    await expect(page.getByTestId('reader-viewport')).toContainText('CHAPTER 1');
    await page.evaluate(`(() => { const el = document.querySelector('[data-testid=reader-viewport]'); const r = document.createRange(); r.selectNodeContents(el); getSelection().removeAllRanges(); getSelection().addRange(r); })()`);
    await page.getByRole('button', { name: 'Compare models' }).click();
    await expect(page.getByLabel('Passage to compare on')).not.toHaveValue('');
    await page.getByLabel('First model').selectOption({ label: 'tiny test model (untrained)' });
    await page.getByLabel('Second model').selectOption({ label: 'My notes' });
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    const rows = page.getByTestId('comparison').locator('tbody tr');
    await expect(rows).toHaveCount(2, { timeout: 30_000 });
    const surprisal = async (i: number) => Number(await rows.nth(i).locator('td').nth(1).textContent());
    expect(await surprisal(1)).toBeLessThan(await surprisal(0));
  } finally {
    await stopHost(host);
    fs.rmSync(work, { recursive: true, force: true });
  }
});
