// The Rules page in a real headless Chromium against the real platform (broker in process, SQLite, API on
// port 0): create from JSON (the API's error shown, naming the field), enable/disable, and a firing
// caused by a reading from the MQTT gateway appearing live.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import type { Browser, Page } from 'playwright-core';
import { hex, modbusTcpFrame, startSite, type Site } from './site.ts';

const WAIT = { timeout: 30_000 }; // generous: the suite must pass with both cores busy

const RULE = {
  id: 'pm-high',
  name: 'Register 3 high',
  when: { device: 'pm-1', point: 'holding.3', op: '>', value: 100 },
  then: [
    {
      type: 'command',
      device: 'pm-1',
      action: 'write-single-register',
      params: { unit: 1, address: 3, value: 0 },
    },
  ],
};

describe('Rules page in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let site: Site;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    browser = await launchChromium();
    site = await startSite();
    site.answers.add('pm-1');
    await site.birth([{ dev: 'pm-1', c: 'modbus-tcp', pollMs: 60_000 }]);
    page = await newPage(browser, pageErrors);
    await site.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('creates a rule from JSON, shows the API error naming the field, toggles it, and shows a firing live', async () => {
    await page.goto(`${site.url}/#/rules`);
    await page.locator('.page.rules .empty', { hasText: 'No rules yet' }).waitFor(WAIT);
    assert.equal(await page.locator('nav a.active').textContent(), 'Rules');

    const textarea = page.locator('textarea[name=rule]');
    await textarea.fill(JSON.stringify({ ...RULE, when: { ...RULE.when, value: 'high' } }));
    await page.locator('form.rule-form button[type=submit]').click();
    const error = page.locator('.page.rules [role=alert]');
    await error.waitFor(WAIT);
    assert.match((await error.textContent()) ?? '', /when\.value: must be a number/);

    await textarea.fill(JSON.stringify(RULE));
    await page.locator('form.rule-form button[type=submit]').click();
    const row = page.locator('tr[data-rule="pm-high"]');
    await row.waitFor(WAIT);
    assert.match((await row.textContent()) ?? '', /pm-1 holding\.3 > 100/);
    assert.equal((await site.api('/api/rules/pm-high')).body.enabled, true);

    await row.locator('button[name=toggle]').click();
    await page.locator('tr[data-rule="pm-high"][data-enabled="false"]').waitFor(WAIT);
    assert.equal((await site.api('/api/rules/pm-high')).body.enabled, false);
    await page.locator('tr[data-rule="pm-high"] button[name=toggle]').click();
    await page.locator('tr[data-rule="pm-high"][data-enabled="true"]').waitFor(WAIT);

    await site.data([
      {
        dev: 'pm-1',
        c: 'modbus-tcp',
        ts: Date.now(),
        raw: hex(modbusTcpFrame(1, 250, 0)),
        ctx: { unit: 1, function: 3, start: 3, count: 2 },
      },
    ]);
    const firing = page.locator('tr[data-firing="pm-high"]');
    await firing.waitFor(WAIT);
    const text = (await firing.textContent()) ?? '';
    assert.match(text, /250/);
    const [fired] = (await site.api('/api/rules/pm-high/history')).body.items;
    assert.match(text, new RegExp(fired.detail.commandId));
    await page.locator('tr[data-rule="pm-high"] .state', { hasText: 'pm-1: fired' }).waitFor(WAIT);
    assert.deepEqual(pageErrors, []);
  });
});
