// Opens maxact's HTML reports in a real browser (Debian's chromium, driven by playwright-core)
// and reports what a reader would see: console errors, every network request, each chart's
// rendered marks, and every number that names its place in the JSON. Saves a screenshot of each.
//   node browser_check.mjs NODE_MODULES CHROMIUM OUT_JSON PAGE.html...
// The verdicts are the Python driver's (check_html_reports.py); this only observes.
import { createRequire } from 'module';
import path from 'path';
import { pathToFileURL } from 'url';

const [modules, chromium, outJson, ...pages] = process.argv.slice(2);
const require = createRequire(path.join(modules, 'noop.js'));
const { chromium: driver } = require('playwright-core');
const fs = require('fs');

const browser = await driver.launch({
  executablePath: chromium,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-default-apps', '--disable-sync',
         '--no-first-run', '--disable-dev-shm-usage'],
});
const results = {};
for (const file of pages) {
  const url = pathToFileURL(path.resolve(file)).href;
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const r = { console_errors: [], page_errors: [], requests: [], charts: {}, spans: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') r.console_errors.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => r.page_errors.push(String(e)));
  page.on('request', (q) => { if (q.url() !== url) r.requests.push(q.url()); });
  await page.goto(url, { waitUntil: 'load' });
  try {
    await page.waitForFunction(
      () => document.documentElement.hasAttribute('data-charts-rendered') ||
            document.documentElement.hasAttribute('data-charts-error'), null, { timeout: 120000 });
  } catch (e) {
    r.page_errors.push('charts did not finish rendering: ' + e);
  }
  Object.assign(r, await page.evaluate(() => {
    const out = { rendered: document.documentElement.getAttribute('data-charts-rendered'),
                  error: document.documentElement.getAttribute('data-charts-error'),
                  figures: document.querySelectorAll('figure').length, charts: {}, spans: [] };
    const views = window.maxactViews || {};
    for (const id of Object.keys(views)) {
      // Items of data-driven marks in the scenegraph (axes, legends and titles excluded).
      let items = 0;
      const walk = (node) => {
        if (!node) return;
        if (node.marktype && node.role === 'mark') items += (node.items || []).length;
        for (const it of node.items || []) walk(it);
      };
      walk(views[id].scenegraph().root);
      const svg = document.querySelector('#' + CSS.escape(id) + ' svg');
      const svgMarks = svg ? svg.querySelectorAll('g.role-mark > path, g.role-mark > g, g.role-mark > text, g.role-mark > line').length : 0;
      out.charts[id] = { items, svg: !!svg, svg_marks: svgMarks };
    }
    for (const s of document.querySelectorAll('[data-source]')) {
      out.spans.push({ source: s.getAttribute('data-source'), value: s.getAttribute('data-value'),
                       text: s.textContent, id: s.closest('[id]') ? s.closest('[id]').id : null });
    }
    return out;
  }));
  await page.screenshot({ path: file.replace(/\.html$/, '.png'), fullPage: true });
  // The top of the page (header, layer curves, channels): what docs/ shows.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.screenshot({ path: file.replace(/\.html$/, '.top.png'), fullPage: true,
                          clip: { x: 0, y: 0, width: 1280, height: Math.min(height, 1500) } });
  results[file] = r;
  await page.close();
}
await browser.close();
fs.writeFileSync(outJson, JSON.stringify(results, null, 1));
