// Tag, alarm and dashboard pages in a real browser, without JavaScript, on a
// 320 px phone; the print page as printed; the QR code rasterised by
// Chromium (the print page's inline SVG and the downloaded SVG file) into
// PNGs that the python side decodes with zbarimg.
// node tags_alarms.mjs '<json: base, cookie, subject, tag, alarm, svgFile, outDir>'
import path from 'node:path';
import { run, shot, check } from './browser.mjs';

const cfg = JSON.parse(process.argv[2]);

async function phonePage(browser, scale = 1) {
  const ctx = await browser.newContext({ viewport: { width: 320, height: 640 },
                                         deviceScaleFactor: scale,
                                         javaScriptEnabled: false });
  await ctx.addCookies([{ name: 'keryu_session', value: cfg.cookie, url: cfg.base }]);
  const page = await ctx.newPage();
  // nothing but our own server (and the SVG file) is ever asked for
  page.on('request', (r) => {
    const u = r.url();
    check(u.startsWith(cfg.base) || u.startsWith('file:') || u.startsWith('data:'),
          `no third-party request (${u})`);
  });
  return page;
}

async function visit(page, route, name) {
  const res = await page.goto(cfg.base + route);
  check(res.status() === 200, `${route}: status 200, got ${res.status()}`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `${route}: no horizontal scrolling at 320 px (scrollWidth ${width})`);
  await shot(page, `tags-alarms-${name}-320`);
}

await run(async (browser) => {
  const page = await phonePage(browser);
  const tags = `/subjects/${cfg.subject}/tags/`;
  await visit(page, '/dashboard/', 'dashboard');
  check((await page.textContent('body')).includes('open alarm'), 'dashboard counts');
  await visit(page, tags, 'tags');
  await visit(page, `${tags}${cfg.tag}/print`, 'print');
  await visit(page, '/alarms/', 'alarms');
  await visit(page, `/alarms/${cfg.alarm}/`, 'alarm');
  check((await page.textContent('body')).includes('DELIVERED'), 'alarm timeline');

  // a form without JavaScript: deactivate, then activate again
  await page.goto(cfg.base + tags);
  await page.click('button:has-text("Deactivate")');
  check(page.url().endsWith('?notice=deactivated'), `deactivated (${page.url()})`);
  await page.click('button:has-text("Activate")');
  check(page.url().endsWith('?notice=activated'), `activated (${page.url()})`);

  // the print page as printed: only the label
  const print = await phonePage(browser, 4);
  await print.goto(`${cfg.base}${tags}${cfg.tag}/print`);
  await print.emulateMedia({ media: 'print' });
  check(!(await print.isVisible('.help')), 'instructions do not print');
  check(await print.isVisible('.label'), 'the label prints');
  await shot(print, 'tags-alarms-print-media');
  await print.locator('.qr svg').screenshot({ path: path.join(cfg.outDir, 'print-qr.png') });

  // the downloaded SVG on its own
  const svg = await browser.newPage({ viewport: { width: 800, height: 800 } });
  await svg.goto('file://' + cfg.svgFile);
  await svg.screenshot({ path: path.join(cfg.outDir, 'svg.png') });
});
