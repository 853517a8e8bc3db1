// The staff pages in a real browser with JavaScript off: a staff member
// logs in, finds a custodian and deactivates them, saves a template (first
// with a mistake, shown next to its field), changes a setting, retries a
// failed delivery and reads the audit log. Every page fits a 320 px phone
// and is shot there and at desktop width; nothing is loaded from elsewhere.
// node admin.mjs '<json: base, email, password, custodian, notification>'
import { run, shot, check } from './browser.mjs';

const cfg = JSON.parse(process.argv[2]);

async function context(browser, width) {
  const ctx = await browser.newContext({ viewport: { width, height: 800 },
                                         javaScriptEnabled: false });
  const page = await ctx.newPage();
  page.on('request', (r) => {
    check(r.url().startsWith(cfg.base), `no third-party request (${r.url()})`);
  });
  return page;
}

function path(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

async function fits(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  const view = page.viewportSize().width;
  check(width <= view, `${what}: no horizontal scrolling at ${view} px (scrollWidth ${width})`);
}

async function mainText(page) {
  return page.textContent('main');
}

// Shoots the page at 320 px and, with the same session, at desktop width.
async function both(page, desk, name) {
  await fits(page, name);
  await shot(page, `admin-${name}-320`);
  await desk.goto(page.url());
  await fits(desk, `${name} (desktop)`);
  await shot(desk, `admin-${name}-desktop`);
}

await run(async (browser) => {
  const page = await context(browser, 320);
  await page.goto(`${cfg.base}/account/login`);
  await page.fill('#f-email', cfg.email);
  await page.fill('#f-password', cfg.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  check(path(page) === '/dashboard/', `logged in, at ${page.url()}`);
  // the desktop browser shares the staff session
  const cookies = await page.context().cookies();
  const desk = await context(browser, 1280);
  await desk.context().addCookies(cookies);

  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  check(path(page) === '/admin/', `the nav leads to /admin/, at ${page.url()}`);
  check((await mainText(page)).includes('failed deliveries'), 'index counts');
  await both(page, desk, 'index');

  // find the custodian and deactivate them
  await page.getByRole('link', { name: 'Custodians' }).first().click();
  await page.fill('#f-q', cfg.custodian.split('@')[0].toUpperCase());
  await page.getByRole('button', { name: 'Search' }).click();
  check(path(page).startsWith('/admin/custodians/?q='), `searched, at ${page.url()}`);
  const rows = page.locator('#custodians .row');
  check(await rows.count() === 1, `one custodian found (${await rows.count()})`);
  await both(page, desk, 'custodians');
  await rows.first().locator('a').first().click();
  check((await mainText(page)).includes(cfg.custodian), 'the custodian page');
  await both(page, desk, 'custodian');
  await page.getByRole('button', { name: 'Deactivate' }).click();
  check(path(page).endsWith('?notice=deactivated'), `deactivated, at ${page.url()}`);
  check(await page.getByRole('button', { name: 'Reactivate' }).count() === 1,
        'the page now offers Reactivate');
  check((await mainText(page)).includes('custodian.deactivate'), 'the change is in their log');

  // a template: a mistake first, kept and shown next to its field
  await page.goto(`${cfg.base}/admin/templates/`);
  await page.selectOption('#f-event', 'alert');
  await page.fill('#f-channel', 'whatsapp');
  await page.fill('#f-name', 'Bad Name');
  await page.fill('#f-language', 'es_MX');
  await page.fill('#f-parameters', 'name,time,place');
  await page.check('#f-approved');
  await page.getByRole('button', { name: 'Save template' }).click();
  check(await page.locator('#f-name-error').count() === 1, 'name error next to the field');
  check(await page.inputValue('#f-name') === 'Bad Name', 'the name is kept');
  check(await page.inputValue('#f-channel') === 'whatsapp', 'the channel is kept');
  check(await page.isChecked('#f-approved'), 'approved is kept');
  await fits(page, 'template errors');
  await shot(page, 'admin-templates-errors-320');
  await page.fill('#f-name', 'qr_alert_es');
  await page.getByRole('button', { name: 'Save template' }).click();
  check(path(page) === '/admin/templates/?notice=saved', `saved, at ${page.url()}`);
  check((await page.textContent('#templates')).includes('qr_alert_es'), 'listed');
  await both(page, desk, 'templates');

  // a setting
  await page.goto(`${cfg.base}/admin/settings/`);
  await page.fill('#f-cooldown_s', '999999');
  await page.getByRole('button', { name: 'Save settings' }).click();
  check(await page.locator('#f-cooldown_s-error').count() === 1, 'range error shown');
  await page.fill('#f-cooldown_s', '90');
  await page.getByRole('button', { name: 'Save settings' }).click();
  check(path(page) === '/admin/settings/?notice=saved', `settings saved, at ${page.url()}`);
  check(await page.inputValue('#f-cooldown_s') === '90', 'the stored value is shown');
  await both(page, desk, 'settings');

  // retry the failed delivery
  await page.getByRole('link', { name: 'Failed deliveries' }).first().click();
  const row = page.locator(`[data-notification="${cfg.notification}"]`);
  check(await row.count() === 1, 'the failed notification is listed');
  check((await row.textContent()).includes('131026'), "the provider's code is shown");
  await both(page, desk, 'deliveries');
  await row.getByRole('button', { name: 'Retry now' }).click();
  check(path(page).includes('notice=retried'), `retried, at ${page.url()}`);
  check((await mainText(page)).includes('A new attempt was queued'), 'retry notice');

  // the audit log, filtered
  await page.getByRole('link', { name: 'Audit log' }).first().click();
  await page.fill('#f-action', 'custodian');
  await page.getByRole('button', { name: 'Show entries' }).click();
  check(path(page).startsWith('/admin/audit/?'), `filtered, at ${page.url()}`);
  const actions = await page.locator('#audit .row').evaluateAll(
    (els) => els.map((e) => e.getAttribute('data-action')));
  check(actions.length === 1 && actions[0] === 'custodian.deactivate',
        `only the custodian entry (${actions})`);
  await page.goto(`${cfg.base}/admin/audit/`);
  const all = await page.textContent('#audit');
  for (const a of ['login', 'custodian.deactivate', 'template.update', 'setting.update',
                   'notification.retry'])
    check(all.includes(a), `the log shows ${a}`);
  await both(page, desk, 'audit');
});
