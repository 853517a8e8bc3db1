// The finder's side of the scan page in a real browser, on a 320 px phone:
//   node finder.mjs <scan url> <second scan url>
// Phone A allows geolocation (fixed coordinates): shares the location,
// sends a report, then watches the live alert state; every change of it is
// printed as "STATUS <text>" for the test to drive the next step (it posts
// the provider's status webhooks and finally acknowledges), until
// "Someone is on their way." shows. Phone B declines geolocation and is
// told the family can still be reached.
import { run, shot, check } from './browser.mjs';

const [url, url2] = process.argv.slice(2);
const ACK = 'Someone is on their way.';

await run(async (browser) => {
  const a = await browser.newContext({
    viewport: { width: 320, height: 640 }, permissions: ['geolocation'],
    geolocation: { latitude: -33.4489, longitude: -70.6693, accuracy: 25 } });
  const page = await a.newPage();
  const res = await page.goto(url);
  check(res.status() === 200, `scan page 200, got ${res.status()}`);

  await page.click('#loc');
  await page.waitForFunction(() => /location was sent/.test(
    document.getElementById('lm').textContent), null, { timeout: 15000 });
  await page.getByLabel('They are injured').check();
  await page.fill('#rt', 'She fell and hurt her knee');
  await page.click('#rf button');
  await page.waitForFunction(() => /report was sent/.test(
    document.getElementById('rm').textContent), null, { timeout: 15000 });
  await shot(page, 'finder-shared-320');

  let last = '';
  for (let i = 0; i < 400; i++) {
    const now = (await page.textContent('#st')).trim();
    if (now !== last) {
      console.log(`STATUS ${now}`);
      last = now;
    }
    if (now === ACK) break;
    await page.waitForTimeout(250);
  }
  check(last === ACK, `the finder sees the acknowledgement (last: ${last})`);
  await shot(page, 'finder-acknowledged-320');

  const b = await browser.newContext({ viewport: { width: 320, height: 640 },
                                       permissions: [] });
  const p2 = await b.newPage();
  await p2.goto(url2);
  await p2.click('#loc');
  const nogeo = await p2.getAttribute('#k', 'data-nogeo');
  await p2.waitForFunction((want) => document.getElementById('lm').textContent === want,
                           nogeo, { timeout: 15000 });
  check(/still be reached/.test(nogeo), `declined: "${nogeo}"`);
  await shot(p2, 'finder-geo-denied-320');
});
