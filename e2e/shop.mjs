// Drives /demo/shop like a shopper: a product view, an add-to-cart and a
// purchase through the embedded snippet. Modes: js (default), gpc (the
// browser sends Sec-GPC: 1), noscript (JavaScript disabled: only the
// <noscript> pixel can report the page view).
//   node e2e/shop.mjs --base=http://127.0.0.1:8080 --mode=js --run=ID --out=test-artifacts
import { launch, artifacts, main } from './browser.mjs';

main(async ({ base, mode = 'js', run, out = 'test-artifacts' }) => {
  const file = artifacts(out);
  const options = {};
  if (mode === 'gpc') options.extraHTTPHeaders = { 'Sec-GPC': '1' };
  if (mode === 'noscript') options.javaScriptEnabled = false;
  const { context, close } = await launch(options);
  try {
    const page = context.pages()[0] || await context.newPage();
    // Count the requests that reached remarket: beacons, fetches, the pixel.
    const sent = [];
    page.on('requestfinished', (r) => { if (/\/(v1\/[a-z]|p\.gif)/.test(r.url())) sent.push(r.url()); });
    const until = async (n) => {
      const deadline = Date.now() + 10000;
      while (sent.length < n && Date.now() < deadline) await page.waitForTimeout(50);
    };
    await page.goto(`${base}/demo/shop?run=${encodeURIComponent(run)}`, { waitUntil: 'load' });
    const result = { mode, run };
    if (mode === 'noscript') {
      await until(1);
      const cookies = await context.cookies(base);
      result.rmid = (cookies.find((c) => c.name === '_rmid') || {}).value || '';
      await page.screenshot({ path: file('shop-noscript.png'), fullPage: true });
    } else {
      const card = page.locator('.product').first();
      result.product = await card.getAttribute('data-id');
      await until(1); // the page call
      for (const [i, button] of ['.view', '.add', '.buy'].entries()) {
        await card.locator(button).click();
        await until(2 + i);
      }
      result.vid = await page.evaluate(() => localStorage.getItem('_rmaid') || '');
      result.gpc = await page.evaluate(() => navigator.globalPrivacyControl === true);
      await page.screenshot({ path: file(`shop-${mode}.png`), fullPage: true });
    }
    result.requests = sent.length;
    return result;
  } finally {
    await close();
  }
});
