// Drives the dashboard's editors and lift panel as a marketer would:
// creates an audience with the editor (a field error first, then the live
// preview), saves it, runs the segments, finds it in the list with its
// lift panel; reads an audience's lift; edits a discount rule (an error
// naming the field first). Screenshots go to --out.
//   node e2e/outcomes.mjs --base=URL --site=demo --token=ADMIN --audience=viewed_not_bought --out=test-artifacts
import { launch, artifacts, main, signIn } from './browser.mjs';

main(async ({ base, site, token, audience = 'viewed_not_bought', name = 'e2e_camera_carts', out = 'test-artifacts' }) => {
  const file = artifacts(out);
  // Progress on stderr: what the test shows when a step times out.
  const step = (what) => process.stderr.write(`outcomes.mjs: ${new Date().toISOString().slice(11, 19)} ${what}\n`);
  const { context, close } = await launch({ viewport: { width: 1280, height: 900 } });
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = await signIn(page, base, site, token);

    step('creating an audience');
    // A new audience: carted a camera, not in the last day.
    await page.goto(`${base}/ui/#/audiences`);
    await page.click('#new-audience');
    await page.waitForSelector('#audience-form');
    await page.fill('[data-field="name"]', name);
    await page.selectOption('[data-field="strategy"]', 'reminder');
    await page.fill('[data-field="description"]', 'Carted a camera, not bought (made in the dashboard)');
    await page.selectOption('.condition[data-side="include"] .kind', 'stage');
    await page.selectOption('[data-field="include[0].stage"]', 'carted');
    await page.fill('[data-field="include[0].categories"]', 'Cameras');
    step('expecting a field error');
    // A window the wrong way round: the API's message names the field.
    await page.fill('[data-field="include[0].since"]', '1d');
    await page.fill('[data-field="include[0].until"]', '3d');
    await page.waitForSelector('[data-field="include[0].until"].invalid', { timeout: 60000 });
    const fieldError = (await page.textContent('#form-error')).trim();
    await page.fill('[data-field="include[0].since"]', '');
    await page.fill('[data-field="include[0].until"]', '');
    step('waiting for the preview');
    await page.waitForSelector('.preview-count', { timeout: 120000 });
    const preview = Number((await page.textContent('.preview-count')).replace(/[^0-9]/g, ''));
    await page.screenshot({ path: file('dashboard-editor.png'), fullPage: true });

    step('saving and running');
    await page.click('#save');
    await page.waitForSelector('#run-now');
    await page.click('#run-now');
    await page.waitForURL(new RegExp(`#/audience/${name}$`), { timeout: 180000 });
    await page.waitForSelector('.lift .verdict', { timeout: 60000 });
    const createdVerdict = (await page.textContent('.lift .verdict')).trim();
    await page.goto(`${base}/ui/#/audiences`);
    await page.waitForSelector('td .size');
    const listed = await page.$$eval('tbody tr', (rows, n) => rows.filter((r) => r.querySelector('a').textContent.trim() === n)
      .map((r) => Number(r.querySelector('.size').textContent.replace(/[^0-9]/g, ''))), name);

    step('reading a lift panel');
    // An audience of the demo campaign: its lift panel.
    await page.goto(`${base}/ui/#/audience/${encodeURIComponent(audience)}`);
    await page.waitForSelector('.lift .verdict', { timeout: 60000 });
    await page.waitForSelector('code.feed-id');
    const lift = {
      verdict: (await page.textContent('.lift .verdict')).trim(),
      message: (await page.textContent('.lift .verdict-message')).trim(),
      value: (await page.textContent('.lift .lift-value')).trim(),
      chart: await page.$$eval('svg.lift-chart circle', (c) => c.length),
      band: await page.$$eval('svg.lift-chart path.band', (p) => p.length),
      redemptions: (await page.textContent('.lift .redemptions')).trim(),
    };
    const panel = await page.$('.lift');
    await panel.screenshot({ path: file('dashboard-lift.png') });

    step('editing a discount rule');
    // Discount rules: take the config's reminder rule over, first with a
    // percent above the site's maximum, then with 12%.
    await page.goto(`${base}/ui/#/discounts`);
    await page.waitForSelector('#rules-form');
    await page.click('button.override >> nth=0');
    const row = 'tr.rule >> nth=-1';
    const percent = page.locator(`${row} >> [aria-label="percent"]`);
    await percent.fill('50');
    await page.click('#save-rules');
    await page.waitForSelector('tr.rule input.invalid');
    const ruleError = (await page.textContent('#rules-error')).trim();
    await percent.fill('12');
    await page.click('#save-rules');
    await page.waitForFunction(() => document.querySelector('#rules-saved').textContent.startsWith('Saved'));
    const effective = await page.$$eval('#effective-rules li', (li) => li.map((l) => l.textContent.trim()));
    await page.screenshot({ path: file('dashboard-discounts.png'), fullPage: true });
    return { fieldError, preview, createdVerdict, listed, lift, ruleError, effective, errors };
  } finally {
    await close();
  }
});
