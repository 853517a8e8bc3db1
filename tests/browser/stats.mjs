// The statistics page in a real browser with JavaScript off, at 320 px and
// desktop width: the inline SVG charts are drawn and fit, the 7/30/90 day
// links switch the period, and the CSV link downloads the alarms. A staff
// session sees everyone's alarms.
// node stats.mjs '<json: base, custodian, staff (session cookies), mine, all, outDir>'
import fs from 'node:fs';
import path from 'node:path';
import { run, shot, check } from './browser.mjs';

const cfg = JSON.parse(process.argv[2]);

async function open(browser, cookie, width) {
  const ctx = await browser.newContext({ viewport: { width, height: 800 },
                                         javaScriptEnabled: false, acceptDownloads: true });
  await ctx.addCookies([{ name: 'keryu_session', value: cookie, url: cfg.base }]);
  const page = await ctx.newPage();
  page.on('request', (r) => {
    check(r.url().startsWith(cfg.base), `no third-party request (${r.url()})`);
  });
  return page;
}

async function bars(page) {
  return page.locator('#per-day rect.bar').evaluateAll(
    (els) => els.map((e) => Number(e.getAttribute('data-count'))));
}

async function look(page, name, days, total) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  const view = page.viewportSize().width;
  check(width <= view, `${name}: no horizontal scrolling at ${view} px (${width})`);
  const counts = await bars(page);
  check(counts.length === days, `${name}: ${days} bars (${counts.length})`);
  check(counts.reduce((a, b) => a + b, 0) === total, `${name}: ${total} alarms (${counts})`);
  // every chart is drawn inside the page, with a real size
  for (const box of await page.locator('svg.chart').evaluateAll(
    (els) => els.map((e) => { const r = e.getBoundingClientRect();
                              return [r.left, r.right, r.width, r.height]; }))) {
    check(box[2] > 100 && box[3] > 10 && box[0] >= 0 && box[1] <= view,
          `${name}: a chart fits (${box})`);
  }
  check(await page.locator('script').count() === 0, `${name}: no script`);
  await shot(page, `stats-${name}`);
}

await run(async (browser) => {
  for (const [width, tag] of [[320, '320'], [1280, 'desktop']]) {
    const page = await open(browser, cfg.custodian, width);
    // 30 days unless asked; the links switch the period
    await page.goto(`${cfg.base}/stats/`);
    check(await page.locator('#scope').count() === 0, 'a custodian sees their own');
    check((await bars(page)).length === 30, 'the default period is 30 days');
    await page.getByRole('link', { name: '7 days' }).click();
    check(page.url().endsWith('/stats/?days=7'), `7 days, at ${page.url()}`);
    await look(page, `custodian-7-${tag}`, 7, cfg.mine[7]);
    await page.getByRole('link', { name: '90 days' }).click();
    check(page.url().endsWith('/stats/?days=90'), `90 days, at ${page.url()}`);
    await look(page, `custodian-90-${tag}`, 90, cfg.mine[90]);
    await page.getByRole('link', { name: '30 days' }).click();
    check(page.url().endsWith('/stats/?days=30'), `30 days, at ${page.url()}`);
    await look(page, `custodian-30-${tag}`, 30, cfg.mine[30]);
    await page.getByRole('link', { name: '7 days' }).click();

    if (width === 320) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download these alarms (CSV)' }).click(),
      ]);
      check(download.suggestedFilename() === 'keryu-alarms-7d.csv',
            `CSV name (${download.suggestedFilename()})`);
      await download.saveAs(path.join(cfg.outDir, 'custodian-7d.csv'));
    }

    const staff = await open(browser, cfg.staff, width);
    await staff.goto(`${cfg.base}/stats/?days=90`);
    check((await staff.textContent('#scope')).includes('Every custodian'), 'staff scope');
    await look(staff, `staff-90-${tag}`, 90, cfg.all[90]);
    if (width === 320) {
      const [download] = await Promise.all([
        staff.waitForEvent('download'),
        staff.getByRole('link', { name: 'Download these alarms (CSV)' }).click(),
      ]);
      await download.saveAs(path.join(cfg.outDir, 'staff-90d.csv'));
    }
  }
  check(fs.existsSync(path.join(cfg.outDir, 'custodian-7d.csv')), 'the CSV was saved');
});
