// `npm run bench:reader`: how fast the reader opens and scrolls a long book, against a baseline
// measured in the same run (the same text rendered at once into one <pre>, no virtualization).
// Usage: npm run bench:reader [-- --sizes 2,20]   (sizes in MB)
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { startHost, stopHost } from '../../test/e2e/host.js';
import { makeBook } from '../../test/fixtures/texts.js';

const sizesArg = process.argv.find((a, i) => process.argv[i - 1] === '--sizes') ?? '2,20';
const sizes = sizesArg.split(',').map(Number);

interface Row {
  size: string;
  mode: string;
  openMs: number;
  frameP50: number;
  frameP95: number;
  frameMax: number;
  domNodes: number;
  heapMB: number;
}

/** Scroll with the wheel for a while and collect frame intervals from requestAnimationFrame. */
async function scrollFrames(page: Page, selector: string): Promise<number[]> {
  // Scripts are passed as strings: tsx's helpers (__name) do not exist inside the page.
  await page.evaluate(`(() => {
    window.frames_ = [];
    window.stop_ = false;
    let last = performance.now();
    const tick = (t) => {
      window.frames_.push(t - last);
      last = t;
      if (!window.stop_) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  const box = (await page.locator(selector).boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let i = 0; i < 120; i++) {
    await page.mouse.wheel(0, 900);
    await page.waitForTimeout(16);
  }
  return page.evaluate<number[]>(`(() => {
    window.stop_ = true;
    return window.frames_.slice(2);
  })()`);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function stats(page: Page): Promise<{ domNodes: number; heapMB: number }> {
  const domNodes = await page.evaluate<number>(`document.getElementsByTagName('*').length`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  return { domNodes, heapMB: usedSize / 1024 / 1024 };
}

async function main(): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
  });
  const rows: Row[] = [];
  for (const mb of sizes) {
    const host = await startHost();
    const text = makeBook({ chapters: Math.max(10, 20 * mb), paragraphsPerChapter: 180, seed: mb, title: `Bench ${mb} MB` }).slice(0, mb * 1024 * 1024);
    const file = path.join(host.workDir, `bench-${mb}.txt`);
    fs.writeFileSync(file, text);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });

    // The app: import through the UI, then open the reader.
    await page.goto(host.url);
    await page.getByTestId('file-input').setInputFiles(file);
    const row = page.getByTestId('doc-row');
    await row.waitFor({ timeout: 120_000 });
    const t0 = Date.now();
    await row.getByRole('button', { name: `Bench ${mb} MB`, exact: true }).click();
    await page.locator('.reader-text.block').first().getByText('Title:').waitFor();
    const openMs = Date.now() - t0;
    const frames = await scrollFrames(page, '[data-testid=reader-viewport]');
    rows.push({ size: `${mb} MB`, mode: 'reader (virtualized)', openMs, frameP50: pct(frames, 50), frameP95: pct(frames, 95), frameMax: Math.max(...frames), ...(await stats(page)) });
    await page.close();

    // Baseline: the whole text in one element.
    const base = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await base.setContent('<div id="v" style="height:100vh;overflow:auto"><pre id="t" style="white-space:pre-wrap;font:17px Georgia;max-width:48rem;margin:auto"></pre></div>');
    const b0 = Date.now();
    await base.evaluate(`(t) => {
      document.getElementById('t').textContent = t;
      return document.getElementById('t').getBoundingClientRect().height; // force layout
    }`, text);
    await base.evaluate(`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`);
    const baseOpen = Date.now() - b0;
    const baseFrames = await scrollFrames(base, '#v');
    rows.push({ size: `${mb} MB`, mode: 'baseline (one <pre>)', openMs: baseOpen, frameP50: pct(baseFrames, 50), frameP95: pct(baseFrames, 95), frameMax: Math.max(...baseFrames), ...(await stats(base)) });
    await base.close();
    await stopHost(host);
  }
  await browser.close();

  const header = ['book', 'mode', 'open ms', 'vs base', 'frame p50 ms', 'p95 ms', 'max ms', 'DOM nodes', 'JS heap MB'];
  const lines = rows.map((r, i) => {
    const base = rows[i % 2 === 0 ? i + 1 : i]!;
    return [r.size, r.mode, r.openMs.toFixed(0), (r.openMs / Math.max(1, base.openMs)).toFixed(2), r.frameP50.toFixed(1), r.frameP95.toFixed(1), r.frameMax.toFixed(1), String(r.domNodes), r.heapMB.toFixed(1)];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  console.log('(open: click to first text for the reader; text set to first painted frame for the baseline. Frames: requestAnimationFrame intervals while wheel-scrolling 120 x 900 px.)');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
