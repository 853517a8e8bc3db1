// Issue 3's whole custodian flow in Chromium, JavaScript off:
// sign up, verify the phone with the code the fake provider received, add a
// subject with a photo and a second contact (verified the same way), make
// and download a tag and decode it with zbarimg, scan it from a second
// browser context (the finder), and see the alarm in the custodian's list
// with its notification timeline. Screenshots of every main page.
// node custodian_flow.mjs <base url> <fake WhatsApp record> <photo.png> <workdir>
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, shot, check, sentCode, recordCount } from './browser.mjs';

const [base, record, photo, work] = process.argv.slice(2);
const at = (page) => new URL(page.url()).pathname;
const submit = (page, label) => page.getByRole('button', { name: label, exact: true }).first().click();

await run(async (browser) => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 },
                                         javaScriptEnabled: false });
  const page = await ctx.newPage();

  // 1. sign up and verify the phone
  await page.goto(`${base}/account/signup`);
  await page.fill('#f-name', 'Marta Díaz');
  await page.fill('#f-email', 'marta@example.org');
  await page.fill('#f-phone', '+56 9 8765 4321');
  await page.fill('#f-password', 'a long enough secret');
  await page.fill('#f-password2', 'a long enough secret');
  await submit(page, 'Create account');
  check(at(page) === '/account/verify', `verify page, at ${page.url()}`);
  await page.fill('#f-code', await sentCode(record));
  await submit(page, 'Verify');
  check(at(page) === '/account/', `account page, at ${page.url()}`);

  // 2. a subject
  await page.goto(`${base}/subjects/new`);
  await shot(page, 'flow-subject-new');
  await page.fill('#f-name', 'Tomás Díaz');
  await page.fill('#f-date_of_birth', '2017-03-14');
  await page.selectOption('#f-gender', 'M');
  await page.fill('#f-care_instructions', 'Speak slowly; he loves trains.');
  await page.fill('#f-allergies', 'Penicillin');
  await submit(page, 'Add subject');
  const m = at(page).match(/^\/subjects\/([0-9a-f-]{36})\/$/);
  check(m, `subject page after saving, at ${page.url()}`);
  const subject = m[1];
  check((await page.textContent('main')).includes('Tomás Díaz'), 'subject page names the subject');

  // 3. its photo
  await page.goto(`${base}/subjects/${subject}/photo`);
  await page.setInputFiles('input[type=file]', photo);
  await submit(page, 'Upload');
  await page.goto(`${base}/subjects/${subject}/`);
  const img = await page.request.get(`${base}/subjects/${subject}/photo/image`);
  check(img.status() === 200 && img.headers()['content-type'] === 'image/png', 'photo served as PNG');
  await shot(page, 'flow-subject-view');

  // 4. a second contact, verified with the code sent to their phone
  await page.goto(`${base}/subjects/${subject}/contacts/`);
  const seen = recordCount(record);
  await page.fill('#f-name', 'Luis Díaz');
  await page.fill('#f-phone', '+56 9 1111 2222');
  await page.selectOption('#f-channel', 'whatsapp');
  await submit(page, 'Add contact');
  check(/\/contacts\/[0-9a-f-]{36}\/verify$/.test(at(page)), `contact verify page, at ${page.url()}`);
  await page.fill('#f-code', await sentCode(record, 'keryu_verify_code', seen));
  await submit(page, 'Verify');
  await page.goto(`${base}/subjects/${subject}/contacts/`);
  const contacts = await page.textContent('main');
  check(contacts.includes('Luis Díaz'), 'second contact listed');
  await shot(page, 'flow-contacts');

  // 5. a tag: make it, activate it, download it, decode it
  await page.goto(`${base}/subjects/${subject}/tags/`);
  await submit(page, 'Make a new tag');
  await page.goto(`${base}/subjects/${subject}/tags/`);
  await submit(page, 'Activate');
  await shot(page, 'flow-tags');
  const pngLink = await page.locator('a[href$="/qr.png"]').first().getAttribute('href');
  const png = await page.request.get(`${base}${pngLink}`);
  check(png.status() === 200, 'tag PNG downloads');
  const file = path.join(work, 'tag.png');
  fs.writeFileSync(file, await png.body());
  const url = execFileSync('zbarimg', ['--raw', '-q', file]).toString().trim();
  check(/\/subjects\/qr\/[0-9a-f-]{36}\/scan\/$/.test(url), `the tag decodes to a scan URL: ${url}`);
  await page.goto(`${base}${pngLink.replace(/qr\.png$/, 'print')}`);
  await shot(page, 'flow-tag-print');

  // 6. the finder scans it, in a browser of their own
  const finder = await browser.newContext({ viewport: { width: 320, height: 640 } });
  const fp = await finder.newPage();
  const scan = await fp.goto(url);
  check(scan.status() === 200, `scan page answers 200, got ${scan.status()}`);
  check((await fp.textContent('body')).includes('Tomás'), 'the finder sees the first name');
  await shot(fp, 'flow-scan-page');

  // 7. the custodian sees the alarm and its timeline
  let row = null;
  for (let i = 0; i < 50 && !row; i++) {
    await page.goto(`${base}/alarms/`);
    const hrefs = await page.locator('a[href^="/alarms/"]').evaluateAll(
      (as) => as.map((a) => a.getAttribute('href')));
    row = hrefs.find((h) => /^\/alarms\/[0-9a-f-]{36}\/$/.test(h)) || null;
    if (!row) await new Promise((r) => setTimeout(r, 100));
  }
  check(row, 'the alarm is listed');
  await shot(page, 'flow-alarms');
  let timeline = '';
  for (let i = 0; i < 50 && !/Sent|SENT/.test(timeline); i++) {
    await page.goto(`${base}${row}`);
    timeline = await page.textContent('main');
    if (!/Sent|SENT/.test(timeline)) await new Promise((r) => setTimeout(r, 100));
  }
  await shot(page, 'flow-alarm-detail');
  check(timeline.includes('Tomás Díaz'), 'alarm names the subject');
  check(/Sent|SENT/.test(timeline), 'timeline shows the message sent');
  check(/wamid\./.test(timeline), 'timeline shows the provider message id');
  check(timeline.includes('4321'), 'timeline shows the last digits of the phone');

  await page.goto(`${base}/dashboard/`);
  await shot(page, 'flow-dashboard');
  await page.goto(`${base}/subjects/`);
  await shot(page, 'flow-subject-list');
});
