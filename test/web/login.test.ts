// Signing in to the dashboard in headless Chromium: the sign-in page, a wrong password, an operator who
// sends a command (shown with their name), a viewer who is not offered the controls, signing out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import { startSite, type Site } from './site.ts';
import { testToken, TEST_PASSWORD } from '../support/auth.ts';

const WAIT = { timeout: 30_000 }; // generous: the suite must pass with both cores busy

describe('dashboard sign-in and roles in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let site: Site;
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
    site = await startSite();
    site.answers.add('pm-1');
    await site.birth([{ dev: 'pm-1', c: 'modbus-tcp', pollMs: 60_000 }]);
    await testToken(site.app.store, 'operator', { username: 'olga', withPassword: true });
    await testToken(site.app.store, 'viewer', { username: 'victor', withPassword: true });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('an operator signs in, sends a command that shows who sent it, and signs out', async () => {
    const errors: string[] = [];
    const page = await newPage(browser, errors);
    await page.goto(`${site.url}/#/device/pm-1`);
    const form = page.locator('form.login');
    await form.waitFor(WAIT);
    assert.equal(await page.locator('table.devices').count(), 0, 'no data before signing in');

    await form.locator('input[name=username]').fill('olga');
    await form.locator('input[name=password]').fill('not the password');
    await form.locator('button[type=submit]').click();
    await page.locator('form.login .error', { hasText: 'wrong user name or password' }).waitFor(WAIT);

    await form.locator('input[name=password]').fill(TEST_PASSWORD);
    await form.locator('button[type=submit]').click();
    await page.locator('#who .user', { hasText: 'olga' }).waitFor(WAIT);
    assert.equal(await page.locator('#who .role').textContent(), 'operator');
    assert.equal(await page.locator('nav a[data-nav=audit]').isVisible(), false, 'audit is for admins');
    // the session is an HttpOnly cookie: the page's scripts cannot read it
    assert.equal(await page.evaluate(() => document.cookie), '');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'mqiot_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');

    const commandForm = page.locator('form.command-form');
    await commandForm.waitFor(WAIT);
    await commandForm.locator('select[name=action]').selectOption('poll');
    await commandForm.locator('button[type=submit]').click();
    await page.locator('li.command[data-state=executed] .by', { hasText: 'by olga' }).waitFor(WAIT);
    const stored = (await site.app.store.listCommands({ deviceId: 'pm-1' }))[0];
    assert.equal(stored?.requestedBy, 'olga');
    const audit = await site.app.store.listAudit({ username: 'olga' });
    assert.ok(
      audit.items.some((e) => e.action === 'POST /api/devices/:id/commands' && e.result === 'ok'),
      JSON.stringify(audit.items),
    );

    await page.locator('#who button[name=logout]').click();
    await page.locator('form.login').waitFor(WAIT);
    // the old cookie no longer works anywhere
    assert.equal((await site.app.store.listTokens({ username: 'olga', kind: 'session' })).length, 0);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a viewer sees the device but is not offered commands or edits', async () => {
    const errors: string[] = [];
    const page = await newPage(browser, errors);
    await page.goto(`${site.url}/#/device/pm-1`);
    await page.locator('form.login input[name=username]').fill('victor');
    await page.locator('form.login input[name=password]').fill(TEST_PASSWORD);
    await page.locator('form.login button[type=submit]').click();
    await page.locator('#who .role', { hasText: 'viewer' }).waitFor(WAIT);
    await page.locator('ul.commands').waitFor(WAIT);
    assert.equal(await page.locator('form.command-form').isVisible(), false);
    assert.equal(await page.locator('button[name=edit]').first().isVisible(), false);
    await page.locator('#live[data-state=live]').waitFor(WAIT); // the live stream runs for viewers too
    assert.deepEqual(errors, []);
    await page.close();
  });
});
