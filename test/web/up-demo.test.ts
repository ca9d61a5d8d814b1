// Black box: `mqiot up --demo` started as a user would, its dashboard opened in headless Chromium.
// The demo site's twelve simulated devices must show online, and their values must move live.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import type { Browser } from 'playwright-core';
import { startUp, type RunningUp } from '../support/cli.ts';
import { printedAdminPassword } from '../support/auth.ts';

const DEMO_DEVICES = 12;
const WAIT = { timeout: 20_000 };

describe('mqiot up --demo: the dashboard in headless Chromium (black box)', { skip: NO_CHROMIUM }, () => {
  let up: RunningUp | undefined;
  let dir: string;
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), 'mqiot-web-up-'));
    up = await startUp(dir, ['--demo']);
  });

  after(async () => {
    await browser?.close();
    await up?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the demo site online and its values changing live; SIGTERM stops it while the page is open', async () => {
    const errors: string[] = [];
    const page = await newPage(browser, errors);
    await page.goto(`${up!.httpUrl}/`);
    // a newcomer signs in with the password the first start printed
    const password = printedAdminPassword(up!.stderr());
    assert.ok(password, `the first start prints the admin password: ${up!.stderr()}`);
    await page.locator('form.login input[name=username]').fill('admin');
    await page.locator('form.login input[name=password]').fill(password);
    await page.locator('form.login button[type=submit]').click();
    await page.locator('tr[data-gateway="demo-site"] .badge[data-online="true"]').waitFor(WAIT);
    await page.waitForFunction(
      (n) => document.querySelectorAll('table.devices .badge[data-online="true"]').length === n,
      DEMO_DEVICES,
      WAIT,
    );
    assert.match((await page.locator('.summary').textContent()) ?? '', /^12 devices, 12 online/);

    await page.locator('a.device-link', { hasText: 'power-meter-1' }).click();
    // identified as the simulated power meter: register 0 is its phase 1 voltage
    const cell = page.locator('table.latest tr[data-point="voltage_l1"] .time');
    await cell.waitFor(WAIT);
    const first = await cell.textContent();
    // the demo polls every 2 s: a later reading replaces the time without a reload
    await page.waitForFunction(
      ([sel, before]) => document.querySelector(sel!)?.textContent !== before,
      ['table.latest tr[data-point="voltage_l1"] .time', first] as const,
      WAIT,
    );
    await page.locator('figure[data-point="voltage_l1"] svg.chart').waitFor(WAIT);
    assert.deepEqual(errors, []);

    // with the dashboard still open (its event stream never ends by itself) the process stops
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      up!.stop(),
      new Promise((r) => (timer = setTimeout(() => r('still running 15 s after SIGTERM'), 15_000))),
    ]);
    clearTimeout(timer);
    assert.equal(code, 0);
    await page.close();
  });
});
