// The public scan page in a real browser, on a 320 px phone and a desktop:
// node scan_page.mjs <scan url> <expected first name>
import { run, shot, check } from './browser.mjs';

const [url, firstName] = process.argv.slice(2);

await run(async (browser) => {
  const phone = await browser.newContext({ viewport: { width: 320, height: 640 },
                                           javaScriptEnabled: false });
  const page = await phone.newPage();
  const res = await page.goto(url);
  check(res.status() === 200, `status 200, got ${res.status()}`);
  const text = await page.textContent('body');
  check(text.includes(firstName), `page names ${firstName}`);
  check(/alerted/i.test(text), 'page says the family has been alerted');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `no horizontal scrolling at 320 px (scrollWidth ${width})`);
  await shot(page, 'scan-page-320');

  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p2 = await desktop.newPage();
  const r2 = await p2.goto(url);
  check(r2.status() === 200, 'desktop status 200');
  await shot(p2, 'scan-page-desktop');

  const missing = await p2.goto(url.replace(/[0-9a-f]{12}\/scan\/$/, '000000000000/scan/'));
  check(missing.status() === 404, `unknown tag is 404, got ${missing.status()}`);
  await shot(p2, 'scan-page-unknown');
});
