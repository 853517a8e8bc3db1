// The acknowledgement link of an alert, as its recipient opens it on a
// phone: node ack.mjs <ack url> <expected first name>
// Opening the link only asks; the button acknowledges; opening it again
// says someone is already on their way.
import { run, shot, check } from './browser.mjs';

const [url, firstName] = process.argv.slice(2);

await run(async (browser) => {
  const phone = await browser.newContext({ viewport: { width: 320, height: 640 },
                                           javaScriptEnabled: false });
  const page = await phone.newPage();
  const res = await page.goto(url);
  check(res.status() === 200, `status 200, got ${res.status()}`);
  const button = page.getByRole('button', { name: "I'm on my way" });
  check(await button.count() === 1, 'one "I\'m on my way" button');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `no horizontal scrolling at 320 px (scrollWidth ${width})`);
  await shot(page, 'ack-page-320');

  const [answer] = await Promise.all([page.waitForNavigation(), button.click()]);
  check(answer.status() === 200, `acknowledged: 200, got ${answer.status()}`);
  const text = await page.textContent('body');
  check(text.includes('Thank you'), 'thank-you page');
  check(text.includes(firstName), `the page names ${firstName}`);
  await shot(page, 'ack-done-320');

  const again = await phone.newPage();
  await again.goto(url);
  await again.getByRole('button', { name: "I'm on my way" }).click();
  await again.waitForLoadState();
  check((await again.textContent('body')).includes('already'),
        'a second press says someone is already on the way');
  await shot(again, 'ack-already-320');

  const bad = await phone.newPage();
  const r404 = await bad.goto(url.slice(0, -2) + (url.endsWith('AA') ? 'BB' : 'AA'));
  check(r404.status() === 404, `tampered link: 404, got ${r404.status()}`);
});
