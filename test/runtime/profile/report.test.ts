/**
 * The HTML report in a real browser: Debian's headless Chromium opens report.html, and the test
 * checks that every chart rendered marks (in the DOM and as pixels in a screenshot) and that the
 * page logged no errors.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type WrittenProfile, writeProfile } from '../../../runtime/profile/write.js';
import { Chromium, chromiumAvailable, chromiumPath } from './chromium.js';
import { runHarnessSession } from './harness.js';
import { decodePng, regionStats } from './png.js';

const report = suite('report.html');
const dir = mkdtempSync(join(tmpdir(), 'engram-report-'));
let written: WrittenProfile;
let html: string;

report.before(async () => {
  const { data } = await runHarnessSession({ rateHz: 200, durationMs: 1000, stageWorkUs: 100, forceGcEvery: 20 });
  written = await writeProfile(data, dir);
  html = readFileSync(written.report, 'utf8');
});
report.after(() => rmSync(dir, { recursive: true, force: true }));

report('is one self-contained file: no scripts, nothing fetched', () => {
  assert.not.match(html, /<script/i);
  assert.not.match(html, /<link[^>]+href/i);
  assert.not.match(html, /(src|href)=["']https?:/i);
  for (const id of [
    'cycle-histogram',
    'cycle-timeline',
    'stage-breakdown',
    'lateness',
    'paths-effort',
    'memory',
    'host',
  ]) {
    assert.match(html, `id="${id}"`);
  }
  assert.match(
    html,
    written.summary.host.cpuModel.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
  );
});

interface ChartBox {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  marks: number;
}

report('renders in headless Chromium: every chart has marks and ink, no console errors', async () => {
  if (!chromiumAvailable()) {
    console.log(`  skipped: ${chromiumPath} not found (install Debian's chromium: make system-deps)`);
    return;
  }
  const browser = new Chromium();
  try {
    const session = await browser.open(pathToFileURL(written.report).href, 1000, 900);
    const boxes = await browser.evaluate<ChartBox[]>(
      session,
      `[...document.querySelectorAll('section.chart')].map((section) => {
        const svg = section.querySelector('svg');
        const box = svg ? svg.getBoundingClientRect() : { x: 0, y: 0, width: 0, height: 0 };
        return { id: section.id, x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height,
          marks: svg ? svg.querySelectorAll('g.mark-rect path, g.mark-line path, g.mark-symbol path, g.mark-rule line').length : 0 };
      })`,
    );
    assert.ok(boxes.length >= 6, `${boxes.length} charts`);
    const png = await browser.screenshot(session);
    writeFileSync(join(dir, 'report.png'), png);
    const image = decodePng(png);
    assert.ok(image.height >= 900, `screenshot ${image.width}x${image.height}`);
    // The page outside the charts (left margin) is background: the pixel check can tell blank from ink.
    const margin = regionStats(image, 0, 0, 10, image.height);
    assert.ok(margin.inkFraction < 0.01, `margin ink ${margin.inkFraction}`);
    for (const box of boxes) {
      assert.ok(box.width > 300 && box.height > 100, `${box.id}: ${box.width}x${box.height}`);
      assert.ok(box.marks >= 2, `${box.id}: ${box.marks} marks in the DOM`);
      const stats = regionStats(image, box.x, box.y, box.width, box.height);
      assert.ok(
        stats.inkFraction > 0.02,
        `${box.id}: only ${(stats.inkFraction * 100).toFixed(2)}% of the chart is ink`,
      );
      assert.ok(stats.colours >= 4, `${box.id}: ${stats.colours} colours`);
    }
    assert.equal(browser.errors, []);
  } finally {
    await browser.close();
  }
});

report.run();
