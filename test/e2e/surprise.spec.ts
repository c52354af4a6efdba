// The surprise views on a generated book read by the default model: the reader's overlay and its
// hover card (numbers checked against the trace stored in SQLite), the book chart (a click opens
// the reader at that place), the most surprising passages, and the recall probe.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { decodeTracePiece } from '../../core/reading/trace.js';
import { makeBook } from '../fixtures/texts.js';
import { ARTIFACTS, expect, test } from './host.js';

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** The stored trace's token that starts at `offset` (the first byte of its character). */
function storedToken(dataDir: string, offset: number): { surprisal: number; rank: number; rankApprox: boolean; altKept: boolean; grad: number[] } {
  const db = new Database(path.join(dataDir, 'library.sqlite'), { readonly: true });
  try {
    const rows = db.prepare(`SELECT data FROM surprise_traces WHERE start_char <= ? AND end_char > ? ORDER BY piece`).all(offset, offset) as Array<{ data: Buffer }>;
    for (const r of rows) {
      const p = decodeTracePiece(r.data);
      const i = p.offsets.indexOf(offset);
      if (i >= 0) return { surprisal: p.surprisal[i]!, rank: p.rank[i]!, rankApprox: p.rank[i]! >= (p.rankExactBelow ?? Infinity), altKept: !p.altKept || p.altKept[i] === 1, grad: p.layers.map((l) => l.grad[i]!) };
    }
    throw new Error(`no stored token at ${offset}`);
  } finally {
    db.close();
  }
}

/** tokens stored in the library's surprise traces (every one starts a character in an ASCII text) */
function storedTokenCount(dataDir: string): number {
  const db = new Database(path.join(dataDir, 'library.sqlite'), { readonly: true });
  try {
    return (db.prepare(`SELECT data FROM surprise_traces`).all() as Array<{ data: Buffer }>).reduce((n, r) => n + decodeTracePiece(r.data).offsets.length, 0);
  } finally {
    db.close();
  }
}

test('surprise over the text and over the book, the hover card, a click on the chart, and recall', async ({ page, readingHost: host }) => {
  test.setTimeout(180_000);
  const book = path.join(host.workDir, 'surprise-book.txt');
  const text = makeBook({ chapters: 5, paragraphsPerChapter: 16, seed: 23, title: 'Surprise Book' });
  fs.writeFileSync(book, text);
  await page.goto(host.url);
  await page.getByTestId('file-input').setInputFiles(book);
  const row = page.getByTestId('doc-row').filter({ hasText: 'Surprise Book' });
  await expect(row.getByTestId('memory-status')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });

  // The reader's overlay: words coloured by surprise, a legend, a hover card with the stored numbers.
  await row.getByRole('button', { name: 'Surprise Book', exact: true }).click();
  await page.getByTestId('surprise-toggle').click();
  await expect(page.getByTestId('overlay-bar')).toBeVisible();
  const viewport = page.getByTestId('reader-viewport');
  const coloured = async () => Number(await viewport.getAttribute('data-coloured'));
  await expect.poll(coloured).toBeGreaterThan(50);
  await page.getByTestId('signal-select').selectOption({ label: 'model surprisal' });
  await expect.poll(coloured).toBeGreaterThan(50);
  // the middle of the 20th coloured word (painted by the CSS Custom Highlight API)
  const spot = await page.evaluate(`(() => {
    const ranges = [];
    for (let k = 0; k < 12; k++) for (const r of CSS.highlights.get('surprise-' + k) ?? []) ranges.push(r);
    ranges.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top || a.getBoundingClientRect().left - b.getBoundingClientRect().left);
    const box = ranges[20].getBoundingClientRect();
    return { x: box.left + box.width / 2, y: box.top + box.height / 2, text: ranges[20].toString() };
  })()`) as { x: number; y: number; text: string };
  await page.mouse.move(spot.x, spot.y);
  const card = page.getByTestId('hover-card');
  await expect(card).toBeVisible();
  await expect(card).toContainText(spot.text);
  const start = Number(await card.getByTestId('hc-at').getAttribute('data-at'));
  const stored = storedToken(host.dataDir, start);
  await expect(card.getByTestId('hc-surprisal')).toHaveText(`${stored.surprisal.toFixed(3)} nats`);
  const p = Math.exp(-stored.surprisal); // the card writes a probability under 0.001 as 6.00e-4
  await expect(card.getByTestId('hc-probability')).toHaveText(p < 0.001 ? p.toExponential(2) : p.toFixed(4));
  await expect(card.getByTestId('hc-rank')).toHaveText(`${stored.rankApprox ? '≈ ' : ''}${stored.rank + 1}`);
  // the alternatives, or a word that they were not stored for this token (only the most surprising tokens keep them)
  await expect(card.getByTestId('hc-no-alternatives')).toHaveCount(stored.altKept ? 0 : 1);
  await expect(card.locator('.hc-alt')).toHaveCount(stored.altKept ? 3 : 0);
  await expect(card.getByTestId('hc-layer')).toHaveCount(stored.grad.length);
  await shot(page, '20-overlay-hover');

  // The threshold leaves fewer words coloured.
  const before = await coloured();
  await page.getByLabel('Threshold').fill('0.8');
  await expect.poll(coloured).toBeLessThan(before);

  // The book view: a click on the chart opens the reader at that place.
  await page.getByRole('button', { name: 'Memory', exact: true }).click();
  const chart = page.getByTestId('book-chart');
  await expect(chart).toBeVisible();
  await expect(page.getByTestId('surprising-passage')).toHaveCount(10);
  await shot(page, '21-memory-view');
  const box = (await chart.boundingBox())!;
  const [x0, x1] = [Number(await chart.getAttribute('data-x0')), Number(await chart.getAttribute('data-x1'))];
  const fx = 0.6;
  await chart.click({ position: { x: 52 + fx * (box.width - 64), y: box.height / 2 } });
  await expect(page).toHaveURL(/#\/reader\/\d+@\d+$/);
  const at = Number(/@(\d+)$/.exec(page.url())![1]);
  expect(Math.abs(at - (x0 + fx * (x1 - x0)))).toBeLessThan((x1 - x0) * 0.01);
  // the reader shows that place: the block that holds it is rendered and the status is past half
  await expect.poll(async () => Number((await page.getByTestId('reader-percent').textContent())!.replace('%', ''))).toBeGreaterThan(45);
  await shot(page, '22-opened-from-chart');

  // Exports: the whole trace as CSV (a row per character-starting token), the chart as PNG.
  await page.getByRole('button', { name: 'Memory', exact: true }).click();
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  expect(csv.suggestedFilename()).toBe('Surprise Book - surprise.csv');
  const lines = fs.readFileSync((await csv.path())!, 'utf8').trimEnd().split('\n');
  expect(lines[0]).toMatch(/^token,char_start,text,surprisal_nats,probability,rank,top1,top1_p,.*,layer1_momentum$/);
  expect(lines.length - 1).toBe(storedTokenCount(host.dataDir)); // ASCII text: every token starts a character
  const cells = lines.slice(1).map((l) => l.split(',')).find((c) => Number(c[1]) === start)!;
  expect(cells).toBeDefined();
  expect(Number(cells[3])).toBeCloseTo(stored.surprisal, 5);
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'PNG' }).first().click()]);
  expect(fs.readFileSync((await png.path())!).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

  // A passage from the list opens where it starts.
  await page.getByRole('button', { name: 'Memory', exact: true }).click();
  const passage = page.getByTestId('surprising-passage').first();
  const passageStart = Number(await passage.getAttribute('data-start'));
  await passage.click();
  await expect(page).toHaveURL(new RegExp(`@${passageStart}$`));

  // Zoom by dragging across the chart, then recall.
  await page.getByRole('button', { name: 'Memory', exact: true }).click();
  await expect(chart).toBeVisible();
  const b2 = (await chart.boundingBox())!;
  await page.mouse.move(b2.x + 100, b2.y + 100);
  await page.mouse.down();
  await page.mouse.move(b2.x + 300, b2.y + 100, { steps: 5 });
  await page.mouse.up();
  await expect.poll(async () => Number(await chart.getAttribute('data-x1')) - Number(await chart.getAttribute('data-x0'))).toBeLessThan((x1 - x0) / 2);
  await page.getByLabel('Cue').fill(text.slice(300, 340));
  await page.getByRole('button', { name: 'Recall' }).click();
  await expect(page.getByTestId('recall-row')).toHaveCount(2, { timeout: 60_000 });
  await expect(page.getByTestId('recall-row').first()).toContainText('No memory');
  await expect(page.getByTestId('recall-row').nth(1)).toContainText('Surprise Book');
  await shot(page, '23-zoom-recall');
});
