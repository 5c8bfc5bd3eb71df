// Loads @segment/analytics-next (the npm package's browser bundle) into a
// page and points its Segment.io destination at remarket, as a site already
// using Segment would by changing the API host; then sends a track call.
//   node e2e/segment-browser.mjs --base=http://127.0.0.1:8080 --key=wk_demo --event=NAME
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { createRequire } from 'node:module';
import { launch, main } from './browser.mjs';

const require = createRequire(import.meta.url);
const umd = join(dirname(require.resolve('@segment/analytics-next/package.json')), 'dist', 'umd');
// A loopback origin other than remarket's: cross-origin (CORS is exercised)
// but allowed to reach a loopback server under Private Network Access. Its
// pages are served by context.route below; nothing listens on port 9.
const origin = 'http://127.0.0.1:9';

main(async ({ base, key, event }) => {
  const apiHost = new URL(base).host + '/v1';
  const { context, close } = await launch();
  try {
    // Chromium asks before a page reaches a loopback address; a shop and
    // its remarket both on 127.0.0.1 exist only in tests, so allow it.
    await context.grantPermissions(['local-network-access'], { origin });
    const page = context.pages()[0] || await context.newPage();
    await context.route(`${origin}/**`, (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === '/') {
        return route.fulfill({ contentType: 'text/html', body: `<!doctype html><title>SDK shop</title><script src="/analytics-next.js"></script>` });
      }
      const name = url.pathname === '/analytics-next.js' ? 'index.js' : basename(url.pathname);
      const path = join(umd, name);
      if (!existsSync(path)) return route.fulfill({ status: 404, body: 'not found' });
      return route.fulfill({ contentType: 'application/javascript', body: readFileSync(path) });
    });
    const sent = [];
    page.on('response', (r) => { if (r.url().startsWith(base)) sent.push(r.request().method() + ' ' + r.url() + ' ' + r.status()); });
    page.on('requestfailed', (r) => { if (r.url().startsWith(base)) sent.push('FAILED ' + r.url() + ' ' + (r.failure() && r.failure().errorText)); });
    page.on('console', (m) => sent.push('console: ' + m.text()));
    await page.goto(`${origin}/`);
    const result = await page.evaluate(async ({ key, apiHost, event, origin }) => {
      const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load({
        writeKey: key,
        cdnURL: origin,
        cdnSettings: { integrations: { 'Segment.io': { apiKey: key, apiHost, protocol: 'http' } } },
      });
      const ctx = await analytics.track(event, { product_id: 'canon-eos-250d', price: 649, currency: 'EUR' });
      const failed = ctx.failedDelivery && ctx.failedDelivery();
      return { anonymousId: analytics.user().anonymousId(), messageId: ctx.event.messageId, failed: failed ? String(failed.reason) : '' };
    }, { key, apiHost, event, origin });
    result.requests = sent;
    return result;
  } finally {
    await close();
  }
});
