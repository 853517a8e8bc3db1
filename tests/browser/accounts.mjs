// A custodian signs up, verifies the phone, logs out and in again in a
// real browser with JavaScript off, on a 320 px phone:
// node accounts.mjs <base url> <fake WhatsApp record file>
// The code is read from the fake provider's record of the message it got.
import { run, shot, check, sentCode } from './browser.mjs';

const [base, record] = process.argv.slice(2);
const email = 'ana@example.org';
const password = 'correct horse battery';

async function noSideScroll(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `${what}: no horizontal scrolling at 320 px (scrollWidth ${width})`);
}

await run(async (browser) => {
  const ctx = await browser.newContext({ viewport: { width: 320, height: 640 },
                                         javaScriptEnabled: false });
  const page = await ctx.newPage();

  await page.goto(`${base}/`);
  check(await page.getByRole('link', { name: 'Sign up' }).count() > 0, 'landing links to sign up');

  await page.goto(`${base}/account/signup`);
  await noSideScroll(page, 'signup');
  await shot(page, 'accounts-signup');

  // errors shown next to the fields, the form refilled (not the password)
  await page.fill('#f-name', 'Ana <b>Pérez</b>');
  await page.fill('#f-email', 'not-an-email');
  await page.fill('#f-password', 'short');
  await page.getByRole('button', { name: 'Create account' }).click();
  check(await page.inputValue('#f-name') === 'Ana <b>Pérez</b>', 'name refilled as typed');
  check(await page.inputValue('#f-password') === '', 'password not refilled');
  check(await page.locator('#f-email-error').count() === 1, 'email error next to the field');
  check(await page.locator('.summary').count() === 1, 'error summary');
  await noSideScroll(page, 'signup with errors');
  await shot(page, 'accounts-signup-errors');

  await page.fill('#f-name', 'Ana Pérez');
  await page.fill('#f-email', email);
  await page.fill('#f-phone', '+1 (650) 555-1234');
  await page.fill('#f-password', password);
  await page.fill('#f-password2', password);
  await page.getByRole('button', { name: 'Create account' }).click();
  check(new URL(page.url()).pathname === '/account/verify', `on the verify page, at ${page.url()}`);
  check((await page.textContent('main')).includes('+16505551234'), 'verify page names the phone');
  await noSideScroll(page, 'verify');
  await shot(page, 'accounts-verify');

  await page.fill('#f-code', await sentCode(record));
  await page.getByRole('button', { name: 'Verify' }).click();
  check(new URL(page.url()).pathname === '/account/', `on the account page, at ${page.url()}`);
  const main = await page.textContent('main');
  check(main.includes('Your phone number is verified'), 'verified notice');
  check(main.includes('Ana Pérez') && main.includes(email), 'name and email shown');
  await noSideScroll(page, 'account');
  await shot(page, 'accounts-account');

  await page.getByRole('button', { name: 'Log out' }).click();
  check(new URL(page.url()).pathname === '/account/login', 'logged out to the login page');
  check((await page.textContent('main')).includes('You are logged out'), 'logged-out notice');
  await page.goto(`${base}/account/`);
  check(new URL(page.url()).pathname === '/account/login', 'account needs a login');
  await shot(page, 'accounts-login');

  await page.fill('#f-email', email);
  await page.fill('#f-password', password);
  await page.getByRole('button', { name: 'Log in' }).click();
  check(new URL(page.url()).pathname === '/account/', `back on the account page, at ${page.url()}`);
  check((await page.textContent('main')).includes('Yes'), 'phone verified');

  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'keryu_session');
  check(session && session.httpOnly && session.sameSite === 'Lax', 'session cookie flags');

  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p2 = await desktop.newPage();
  await p2.goto(`${base}/account/signup`);
  await shot(p2, 'accounts-signup-desktop');
});
