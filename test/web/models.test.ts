// Device models in a real headless Chromium against the real platform (broker in process, SQLite, API on
// port 0): a Modbus device first seen is shown with its model, how sure the platform is and named points
// with units; an operator sets another model; the Models page checks, tries and uploads a model.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifact, launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import { hex, startSite, type Site } from './site.ts';

const WAIT = { timeout: 15_000 };
const METER_POLL =
  '00 01 00 00 00 19 01 03 16 08 FD 02 00 04 7E 00 00 30 39 13 8A 03 B6 00 D7 00 01 08 FB 09 06';

describe('device models in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let site: Site;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    browser = await launchChromium();
    site = await startSite();
    await site.birth([{ dev: 'pm-7', c: 'modbus-tcp', pollMs: 60_000 }]);
    await site.data([
      {
        dev: 'pm-7',
        c: 'modbus-tcp',
        ts: Date.now(),
        raw: hex(METER_POLL),
        ctx: { unit: 1, function: 3, start: 0, count: 11 },
      },
    ]);
    page = await newPage(browser, pageErrors);
    await site.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('the device page shows the model found, how sure, and named points with units', async () => {
    await page.goto(`${site.url}/#/device/pm-7`);
    await page.locator('.device-model .model-id', { hasText: 'sim-power-meter' }).waitFor(WAIT);
    assert.equal(await page.locator('.device-model .confidence').textContent(), '83 %');
    assert.equal(await page.locator('.device-model .how').textContent(), 'identified from its frames');
    const voltage = page.locator('table.latest tr[data-point="voltage_l1"]');
    await voltage.waitFor(WAIT);
    assert.equal(await voltage.locator('.value').textContent(), '230.1');
    assert.equal(await voltage.locator('.unit').textContent(), 'V');
    assert.equal(
      await page.locator('table.latest tr[data-point^="holding."]').count(),
      0,
      'no bare registers',
    );
    assert.deepEqual(await page.locator('.device-model .model-commands button').allTextContents(), [
      'relay-on',
      'relay-off',
    ]);
    await page.screenshot({ path: artifact('device-model.png'), fullPage: true });

    await page.locator('.device-model select[name=model]').selectOption('eastron-sdm120');
    await page.locator('.device-model .how', { hasText: 'set by an operator' }).waitFor(WAIT);
    assert.equal(await page.locator('.device-model .confidence').textContent(), '100 %');
    assert.equal((await site.api('/api/devices/pm-7/model')).body.model.modelId, 'eastron-sdm120');
    assert.deepEqual(pageErrors, []);
  });

  it('the Models page checks a model (failing tests listed), tries a frame and uploads it', async () => {
    await page.goto(`${site.url}/#/models`);
    await page.locator('tr[data-model="sim-power-meter"]').waitFor(WAIT);
    assert.equal(await page.locator('nav a.active').textContent(), 'Models');

    const source = page.locator('textarea[name=source]');
    const template = await source.inputValue();
    await source.fill(template.replace('voltage: 230.1', 'voltage: 231'));
    await page.locator('button[name=check]').click();
    await page.locator('.editor-output [role=alert]').waitFor(WAIT);
    assert.match(
      (await page.locator('.editor-output').textContent()) ?? '',
      /1 of 1 inline tests failed.*expected 231, got 230\.1/,
    );

    await source.fill(template);
    await page.locator('button[name=check]').click();
    await page.locator('.editor-output .ok', { hasText: 'my-meter 1.0.0 is valid' }).waitFor(WAIT);

    await page.locator('form.model-try button[name=try]').click();
    const tried = page.locator('.try-output tr[data-point="voltage"]');
    await tried.waitFor(WAIT);
    assert.equal(await tried.locator('.value').textContent(), '230.1');
    assert.equal(await tried.locator('.unit').textContent(), 'V');

    await page.locator('input[name=use-editor]').uncheck();
    await page.locator('form.model-try button[name=try]').click();
    await page.locator('.try-output tr[data-score="sim-power-meter"]').waitFor(WAIT);
    assert.equal(
      await page.locator('.try-output tr[data-score="sim-power-meter"] .confidence').textContent(),
      '83 %',
    );

    await page.locator('button[name=upload]').click();
    await page.locator('tr[data-model="my-meter"]').waitFor(WAIT);
    assert.equal((await site.api('/api/models/my-meter')).status, 200);
    await page.screenshot({ path: artifact('models-page.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  it('a viewer sees the model but not the controls that change it', async () => {
    const viewerPage = await newPage(browser, pageErrors);
    await site.signIn(viewerPage, 'viewer');
    await viewerPage.goto(`${site.url}/#/device/pm-7`);
    await viewerPage.locator('.device-model .model-id').waitFor(WAIT);
    assert.equal(await viewerPage.locator('.device-model select[name=model]').isVisible(), false);
    await viewerPage.goto(`${site.url}/#/models`);
    await viewerPage.locator('tr[data-model="sim-power-meter"]').waitFor(WAIT);
    assert.equal(await viewerPage.locator('button[name=upload]').isVisible(), false);
    assert.equal(await viewerPage.locator('button[name=check]').isVisible(), true);
    await viewerPage.close();
    assert.deepEqual(pageErrors, []);
  });
});
