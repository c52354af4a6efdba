// `npm run bench:surprise`: do the surprise views stay fluid on a book of a million tokens? A
// generated book is imported and read into memory through the app (browser host, a tiny real
// model so the reading takes minutes), then in Chromium: the reader scrolled with the overlay on
// against the same scroll with it off (the baseline, same run), the time until the overlay shows,
// the Memory view's chart and zooms, and the main thread's long tasks (> 50 ms) throughout.
// Usage: npm run bench:surprise [-- --tokens 1000000]
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { startHost, stopHost } from '../../test/e2e/host.js';
import { writeTinyReaderModel } from '../../test/fixtures/reader-model.js';
import { makeBook } from '../../test/fixtures/texts.js';

const tokens = Number(process.argv.find((_, i) => process.argv[i - 1] === '--tokens') ?? 1_000_000);

/** Poll from here (the page's strict CSP forbids evaluating strings, which waitForFunction would need). */
async function until(ok: () => Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 30_000; !(await ok()); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.long_ = [];
    new PerformanceObserver((l) => window.long_.push(...l.getEntries().map((e) => e.duration))).observe({ entryTypes: ['longtask'] });
  })()`);
}
const takeLongTasks = (page: Page) => page.evaluate<number[]>(`(() => { const l = window.long_; window.long_ = []; return l; })()`);

/** Wheel-scroll the reader 60 x 900 px; requestAnimationFrame intervals. */
async function scrollFrames(page: Page): Promise<number[]> {
  await page.evaluate(`(() => {
    window.frames_ = []; window.stop_ = false; let last = performance.now();
    const tick = (t) => { window.frames_.push(t - last); last = t; if (!window.stop_) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  })()`);
  const box = (await page.getByTestId('reader-viewport').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let i = 0; i < 60; i++) {
    await page.mouse.wheel(0, 900);
    await page.waitForTimeout(30);
  }
  await page.waitForTimeout(500);
  return page.evaluate<number[]>(`(() => { window.stop_ = true; return window.frames_.slice(2); })()`);
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'titans-bench-surprise-'));
  const model = await writeTinyReaderModel(work);
  const host = await startHost(['--model', model]);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
  try {
    const text = makeBook({ chapters: Math.max(10, Math.round(tokens / 25_000)), paragraphsPerChapter: 100, seed: 5, title: 'Bench Surprise' }).slice(0, tokens);
    const file = path.join(host.workDir, 'bench-surprise.txt');
    fs.writeFileSync(file, text);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(host.url);
    const t0 = Date.now();
    await page.getByTestId('file-input').setInputFiles(file);
    const row = page.getByTestId('doc-row');
    await row.getByTestId('memory-status').and(page.locator('[data-status=done]')).waitFor({ timeout: 3_600_000 });
    const readSeconds = (Date.now() - t0) / 1000;
    console.log(`Imported and read ${text.length.toLocaleString('en')} tokens in ${readSeconds.toFixed(0)} s (tiny model, ${Math.round(text.length / readSeconds)} tokens/s)`);

    await row.getByRole('button', { name: 'Bench Surprise', exact: true }).click();
    await page.locator('.reader-text.block').first().waitFor();
    await watchLongTasks(page);
    const baseFrames = await scrollFrames(page);
    const baseLong = await takeLongTasks(page);

    const o0 = Date.now();
    await page.getByTestId('surprise-toggle').click();
    await until(async () => Number(await page.getByTestId('reader-viewport').getAttribute('data-coloured')) > 0);
    const overlayMs = Date.now() - o0;
    const spans = Number(await page.getByTestId('reader-viewport').getAttribute('data-coloured'));
    const overlayFrames = await scrollFrames(page);
    const overlayLong = await takeLongTasks(page);

    const m0 = Date.now();
    await page.getByRole('button', { name: 'Memory', exact: true }).click();
    const chart = page.getByTestId('book-chart');
    await page.getByTestId('surprising-passage').first().waitFor();
    const chartMs = Date.now() - m0;
    const zoomMs: number[] = [];
    const box = (await chart.boundingBox())!;
    for (let i = 0; i < 8; i++) {
      const before = await chart.getAttribute('data-x1');
      const z0 = Date.now();
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      await page.mouse.wheel(0, -100);
      await until(async () => (await chart.getAttribute('data-x1')) !== before);
      await page.evaluate(`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`);
      zoomMs.push(Date.now() - z0);
    }
    const memoryLong = await takeLongTasks(page);

    const rows = [
      ['reader scroll: frame p50 / p95 / max (ms)', `${pct(overlayFrames, 50).toFixed(1)} / ${pct(overlayFrames, 95).toFixed(1)} / ${Math.max(...overlayFrames).toFixed(0)}`, `${pct(baseFrames, 50).toFixed(1)} / ${pct(baseFrames, 95).toFixed(1)} / ${Math.max(...baseFrames).toFixed(0)}`, (pct(overlayFrames, 95) / pct(baseFrames, 95)).toFixed(2)],
      ['reader scroll: long tasks (count, longest ms)', `${overlayLong.length}, ${Math.max(0, ...overlayLong).toFixed(0)}`, `${baseLong.length}, ${Math.max(0, ...baseLong).toFixed(0)}`, ''],
      ['overlay: click to first coloured word (ms)', String(overlayMs), '', ''],
      ['overlay: coloured words on screen (highlight ranges, no DOM nodes)', String(spans), '', ''],
      ['memory view: click to chart and passages (ms)', String(chartMs), '', ''],
      ['memory view: wheel zoom to redrawn chart, p50 / max (ms)', `${pct(zoomMs, 50)} / ${Math.max(...zoomMs)}`, '', ''],
      ['memory view: long tasks (count, longest ms)', `${memoryLong.length}, ${Math.max(0, ...memoryLong).toFixed(0)}`, '', ''],
    ];
    console.log(`\n| ${tokens.toLocaleString('en')}-token book | surprise views | baseline: reader without overlay (same run) | ratio |\n|---|---|---|---|`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } finally {
    await browser.close();
    await stopHost(host);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
