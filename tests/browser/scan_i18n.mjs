// The scan page in the finder's language, on a 320 px phone (issue 5):
// node scan_i18n.mjs <scan url> <scan url of a missing subject> <first name>
// English and Spanish by the browser's language (screenshots
// scan-page-en-320.png, scan-page-es-320.png), the switch keeps the scan
// (no second alert), the live state moves on its own, lost mode's banner
// (scan-page-missing-320.png), and with JavaScript off everything but the
// live refresh is there and the report form still posts.
import { run, shot, check } from './browser.mjs';

const [url, missingUrl, firstName] = process.argv.slice(2);
const phone = { viewport: { width: 320, height: 640 } };

async function fits(page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `no horizontal scrolling at 320 px (scrollWidth ${width})`);
}

await run(async (browser) => {
  // English
  const en = await browser.newContext({ ...phone, locale: 'en-US' });
  const p = await en.newPage();
  let res = await p.goto(url);
  check(res.status() === 200, `en: status 200, got ${res.status()}`);
  check(await p.getAttribute('html', 'lang') === 'en', 'en: <html lang="en">');
  let text = await p.textContent('body');
  check(text.includes(firstName), `en: names ${firstName}`);
  check(text.includes('The family has been alerted'), 'en: says the family has been alerted');
  check(text.includes('Speak slowly'), 'en: care instructions shown');
  check(text.includes('Penicillin'), 'en: public allergies shown');
  check(!text.includes('SECRET-MEDS'), 'en: private medications not shown');
  check(await p.locator('a[href^="tel:+"]').count() === 1, 'en: one-tap call link');
  check(await p.locator('a[href^="https://wa.me/"]').count() === 1, 'en: WhatsApp link');
  check(await p.locator('nav a', { hasText: 'Español' }).count() === 1, 'en: switch to Español');
  check(await p.locator('#loc').isVisible(), 'en: Share my location button');
  // the live state leaves "Sending" without a reload (the log channel
  // delivers at once; polled every 3 s)
  const sending = 'Sending the alert to the family…';
  await p.waitForFunction((s) => document.getElementById('st').textContent.trim() !== s,
                          sending, { timeout: 20000 });
  const live = (await p.textContent('#st')).trim();
  console.log(`live state: ${live}`);
  await fits(p);
  await shot(p, 'scan-page-en-320');

  // the switch re-renders this scan in Spanish: same token, no new scan
  await Promise.all([p.waitForNavigation(), p.click('nav a:has-text("Español")')]);
  check(await p.getAttribute('html', 'lang') === 'es', 'switch: <html lang="es">');
  check((await p.textContent('body')).includes('La familia ha sido avisada'), 'switch: Spanish');
  check(new URL(p.url()).searchParams.get('t'), 'switch: the link carries the scan token');

  // Spanish from Accept-Language
  const es = await browser.newContext({ ...phone, locale: 'es-ES' });
  const q = await es.newPage();
  res = await q.goto(url);
  check(res.status() === 200, `es: status 200, got ${res.status()}`);
  check(await q.getAttribute('html', 'lang') === 'es', 'es: <html lang="es">');
  text = await q.textContent('body');
  check(text.includes('La familia ha sido avisada'), 'es: la familia ha sido avisada');
  check(text.includes('Compartir mi ubicación'), 'es: location button in Spanish');
  check(text.includes('Cuente a la familia qué está pasando'), 'es: report form in Spanish');
  check(!text.includes('The family has been alerted'), 'es: no English left');
  await fits(q);
  await shot(q, 'scan-page-es-320');

  // lost mode
  res = await q.goto(missingUrl);
  check(res.status() === 200, `missing: status 200, got ${res.status()}`);
  const banner = q.locator('.miss');
  check(await banner.isVisible(), 'missing: banner visible');
  check((await banner.textContent()).includes('Esta persona está desaparecida'), 'missing: banner in Spanish');
  // the en context chose Español above (kept in a cookie): ?lang=en
  const miss = await en.newPage();
  await miss.goto(missingUrl + '?lang=en');
  check((await miss.textContent('.miss')).includes(
    'This person is missing — please stay with them and share your location'), 'missing: English banner');
  await fits(miss);
  await shot(miss, 'scan-page-missing-320');

  // JavaScript off: everything but the live refresh
  const nojs = await browser.newContext({ ...phone, locale: 'en-US', javaScriptEnabled: false });
  const n = await nojs.newPage();
  res = await n.goto(url);
  check(res.status() === 200, `nojs: status 200, got ${res.status()}`);
  text = await n.textContent('body');
  for (const s of [firstName, 'Speak slowly', 'Penicillin', 'The family has been alerted',
                   'Share my location', 'Tell the family what is happening', 'Call the family']) {
    check(text.includes(s), `nojs: shows "${s}"`);
  }
  check(await n.locator('noscript a', { hasText: 'Refresh' }).count() === 1 ||
        text.includes('Refresh to see the latest state'), 'nojs: a refresh link');
  await n.waitForTimeout(1000); // the alarm is written a few ms after the page
  await n.check('input[value="test"]');
  await n.fill('textarea[name="text"]', 'Only a test from the browser');
  const [posted] = await Promise.all([n.waitForNavigation(), n.click('#rf button[type="submit"]')]);
  check(posted && posted.status() === 200, `nojs: report posted (status ${posted && posted.status()})`);
  await shot(n, 'scan-page-nojs-report-320');
});
