// Shared Playwright set-up for remarket's browser tests: Debian's chromium
// through playwright-core, a fresh profile per run, no network beyond the
// servers under test.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'remarket-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    // HeadlessChrome in the user agent is (rightly) flagged as a bot;
    // the tests play a person using a normal browser.
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    ...options,
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// signIn opens the dashboard on page and signs in; it returns the page
// errors seen from then on (the dashboard's CSP forbids inline styles and
// scripts: a violation is a bug too).
export async function signIn(page, base, site, token) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text()); });
  await page.goto(`${base}/ui/`);
  await page.fill('#login input[name=site]', site);
  await page.fill('#login input[name=token]', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('.stat');
  return errors;
}

export function artifacts(dir) {
  mkdirSync(dir, { recursive: true });
  return (name) => join(dir, name);
}

// parseArgs reads --key=value arguments.
export function parseArgs(argv) {
  const out = {};
  for (const a of argv.slice(2)) {
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

// main runs fn and prints its result as one JSON line; errors exit 1.
export function main(fn) {
  fn(parseArgs(process.argv)).then(
    (result) => { process.stdout.write(JSON.stringify(result) + '\n'); },
    (err) => { process.stderr.write((err && err.stack) || String(err)); process.stderr.write('\n'); process.exit(1); },
  );
}
