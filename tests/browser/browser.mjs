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
