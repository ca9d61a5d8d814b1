// Alarms in the dashboard, in a real headless Chromium against the real platform (broker in process,
// SQLite, API on port 0): a reading from the MQTT gateway crosses an alarm rule's threshold and the
// overview badge, the header's count, the device page and the alarms page show it live; an operator
// acknowledges and clears it there and disables and enables the rule; a viewer sees no buttons.
// Screenshots go to .tmp/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifact, launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import { hex, modbusTcpFrame, startSite, type Site } from './site.ts';

const WAIT = { timeout: 15_000 };

describe('alarms in the dashboard (headless Chromium)', { skip: NO_CHROMIUM }, () => {
  let site: Site;
  let browser: Browser;
  let page: Page;
  let transaction = 0;
  const pageErrors: string[] = [];

  /** One Modbus reading of pm-1: holding.0 = r0. */
  const reading = (r0: number) =>
    site.data([
      {
        dev: 'pm-1',
        c: 'modbus-tcp',
        ts: Date.now(),
        raw: hex(modbusTcpFrame(++transaction, r0, 0)),
        ctx: { unit: 1, function: 3, start: 0, count: 2 },
      },
    ]);

  before(async () => {
    browser = await launchChromium();
    site = await startSite();
    await site.birth([{ dev: 'pm-1', c: 'modbus-tcp', pollMs: 60_000 }]);
    await reading(100);
    const created = await site.api('/api/alarm-rules', {
      method: 'POST',
      json: {
        id: 'pm-overload',
        name: 'Power meter overload',
        severity: 'critical',
        condition: 'threshold',
        device: 'pm-1',
        point: 'holding.0',
        op: '>',
        value: 500,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    page = await newPage(browser, pageErrors);
    await site.signIn(page, 'operator');
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('overview badge and header count go from none to 1 critical without a reload', async () => {
    await page.goto(`${site.url}/#/`);
    const badge = page.locator('.alarms-line a.alarm-badge');
    await page.locator('.alarms-line[data-active="0"]').waitFor(WAIT);
    assert.equal(await badge.textContent(), 'Alarms: none active');
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    await reading(620);
    await page.locator('.alarms-line[data-active="1"]').waitFor(WAIT);
    assert.equal(await badge.textContent(), 'Alarms: 1 critical');
    assert.match((await badge.getAttribute('class')) ?? '', /sev-critical/);
    await page.locator('#alarm-count[data-active="1"]').waitFor(WAIT);
    assert.equal(await page.locator('#alarm-count').textContent(), '1');
    await page.screenshot({ path: artifact('alarms-overview.png'), fullPage: true });
  });

  it('the device page lists its active alarm', async () => {
    await page.goto(`${site.url}/#/device/pm-1`);
    const row = page.locator('.originator-alarms tr[data-active="true"]');
    await row.waitFor(WAIT);
    const text = (await row.textContent()) ?? '';
    assert.match(text, /critical/);
    assert.match(text, /Power meter overload \(620\)/);
    await page.screenshot({ path: artifact('alarms-device.png'), fullPage: true });
  });

  it('the alarms page: acknowledge, then clear; the filter shows the cleared one under "all"', async () => {
    await page.locator('nav a[data-nav="alarms"]').click();
    await page.locator('.page.alarms tr.alarm').first().waitFor(WAIT);
    assert.equal(await page.locator('nav a.active').getAttribute('data-nav'), 'alarms');
    assert.match(
      (await page.locator('.alarm-summary').textContent()) ?? '',
      /Active: 1 critical · 1 not acknowledged/,
    );
    assert.match(
      (await page.locator('tr[data-alarm-rule="pm-overload"]').textContent()) ?? '',
      /holding\.0 > 500/,
    );
    const row = page.locator('.page.alarms tr.alarm').first();
    await row.locator('button[name=ack]').click();
    await page.locator('.page.alarms tr.alarm[data-acknowledged="true"]').waitFor(WAIT);
    assert.match(
      (await page.locator('.page.alarms tr.alarm').first().textContent()) ?? '',
      /acknowledged by test-operator/,
    );
    await page.locator('.page.alarms tr.alarm button[name=clear]').click();
    await page.locator('.page.alarms .empty', { hasText: 'No active alarms.' }).waitFor(WAIT);
    await page.locator('#alarm-count[data-active="0"]').waitFor({ ...WAIT, state: 'attached' }); // empty: hidden
    await page.locator('select[name=status]').selectOption('all');
    const cleared = page.locator('.page.alarms tr.alarm[data-active="false"]');
    await cleared.waitFor(WAIT);
    assert.match(
      (await cleared.textContent()) ?? '',
      /cleared .* by test-operator, acknowledged by test-operator/,
    );
    assert.equal(await cleared.locator('button').count(), 0);
    const [stored] = (await site.api('/api/alarms?status=all')).body.items;
    assert.deepEqual(
      [stored.active, stored.ackBy, stored.clearedBy],
      [false, 'test-operator', 'test-operator'],
    );
    await page.screenshot({ path: artifact('alarms-page.png'), fullPage: true });
    // disable and enable the rule from its row
    await page.locator('tr[data-alarm-rule="pm-overload"] button[name=toggle]').click();
    await page.locator('tr[data-alarm-rule="pm-overload"][data-enabled="false"]').waitFor(WAIT);
    assert.equal((await site.api('/api/alarm-rules/pm-overload')).body.enabled, false);
    await page.locator('tr[data-alarm-rule="pm-overload"] button[name=toggle]').click();
    await page.locator('tr[data-alarm-rule="pm-overload"][data-enabled="true"]').waitFor(WAIT);
  });

  it('a new crossing raises a new alarm, shown live; a viewer sees it without the buttons', async () => {
    await reading(100);
    await reading(700);
    await page.locator('select[name=status]').selectOption('active');
    await page.locator('.page.alarms tr.alarm[data-active="true"]').waitFor(WAIT);
    const viewer = await newPage(browser, pageErrors);
    const context = viewer.context();
    await context.clearCookies();
    await site.signIn(viewer, 'viewer');
    await viewer.goto(`${site.url}/#/alarms`);
    await viewer.locator('.page.alarms tr.alarm[data-active="true"]').waitFor(WAIT);
    assert.equal(await viewer.locator('.page.alarms tr.alarm button[name=ack]').isVisible(), false);
    assert.equal(await viewer.locator('.page.alarms tr.alarm button[name=clear]').isVisible(), false);
    assert.deepEqual(pageErrors, []);
  });
});
