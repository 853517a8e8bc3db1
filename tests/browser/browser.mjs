// Shared by the browser tests: Debian's chromium, headless, driven by
// playwright-core (which never downloads a browser of its own).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// Saves a full-page screenshot as <artifacts>/<name>.png and returns its path.
export async function shot(page, name) {
  const dir = process.env.KERYU_ARTIFACTS || 'artifacts';
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// Runs fn(browser) and exits non-zero with the error on any failure.
export async function run(fn) {
  const browser = await launch();
  try {
    await fn(browser);
    console.log('browser test passed');
  } catch (e) {
    console.error(e.stack || String(e));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

// The first body parameter of the newest message the fake WhatsApp
// provider received with the given template (a one-time code), waiting up
// to 10 s. `after` skips messages already seen (a count of records).
export async function sentCode(record, template = 'keryu_verify_code', after = 0) {
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(record)) {
      const sends = fs.readFileSync(record, 'utf8').split('\n').filter((l) => l.trim())
        .slice(after).map((l) => JSON.parse(JSON.parse(l).body))
        .filter((b) => b.template && b.template.name === template);
      if (sends.length) return sends[sends.length - 1].template.components[0].parameters[0].text;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${template} message reached the fake provider`);
}

// How many requests the fake provider has recorded so far.
export function recordCount(record) {
  if (!fs.existsSync(record)) return 0;
  return fs.readFileSync(record, 'utf8').split('\n').filter((l) => l.trim()).length;
}
