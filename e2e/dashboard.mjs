// Signs in to the dashboard, walks its pages and reports what they show:
// the audiences with their sizes and one audience's feed preview.
// Screenshots of every page go to --out (desktop and phone sizes).
//   node e2e/dashboard.mjs --base=URL --site=demo --token=ADMIN --out=test-artifacts
import { launch, artifacts, main, signIn } from './browser.mjs';

main(async ({ base, site, token, out = 'test-artifacts', product = 'canon-eos-250d' }) => {
  const file = artifacts(out);
  const { context, close } = await launch({ viewport: { width: 1280, height: 900 } });
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = await signIn(page, base, site, token);
    await page.waitForSelector('svg.chart');
    await page.screenshot({ path: file('dashboard-overview.png'), fullPage: true });

    await page.goto(`${base}/ui/#/audiences`);
    await page.waitForSelector('td .size');
    const audiences = await page.$$eval('tbody tr', (rows) => rows.map((r) => ({
      name: r.querySelector('a').textContent.trim(),
      size: Number(r.querySelector('.size').textContent.replace(/[^0-9]/g, '')),
    })));
    await page.screenshot({ path: file('dashboard-audiences.png'), fullPage: true });

    // The audience with the biggest feed preview is the one to compare.
    const candidates = audiences.filter((a) => a.size > 0).map((a) => a.name);
    let chosen = '', preview = [];
    for (const name of candidates) {
      await page.goto(`${base}/ui/#/audience/${encodeURIComponent(name)}`);
      await page.waitForSelector('h2 >> text=Feed preview');
      const ids = await page.$$eval('code.feed-id', (els) => els.map((e) => e.textContent.trim()));
      if (ids.length > preview.length) { chosen = name; preview = ids; }
      if (ids.length >= 5) break;
    }
    await page.goto(`${base}/ui/#/audience/${encodeURIComponent(chosen)}`);
    await page.waitForSelector('code.feed-id');
    await page.screenshot({ path: file('dashboard-audience.png'), fullPage: true });

    const member = await page.$eval('a[href^="#/visitor/"]', (a) => a.getAttribute('href')).catch(() => '');
    if (member) {
      await page.goto(`${base}/ui/${member}`);
      await page.waitForSelector('h2 >> text=Timeline');
      await page.screenshot({ path: file('dashboard-visitor.png'), fullPage: true });
    }
    await page.goto(`${base}/ui/#/product/${encodeURIComponent(product)}`);
    await page.waitForSelector('h2 >> text=Related products');
    await page.screenshot({ path: file('dashboard-product.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/ui/#/audiences`);
    await page.waitForSelector('td .size');
    await page.screenshot({ path: file('dashboard-audiences-phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    return { audiences, audience: chosen, preview, member, errors, phoneOverflow: overflow };
  } finally {
    await close();
  }
});
