// Black box: `mqiot up --demo` started as a user would, its dashboard opened in headless Chromium.
// The demo site's twelve simulated devices must show online, and their values must move live.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

const BIN = new URL('../../bin/mqiot.js', import.meta.url).pathname;
const CHROMIUM = process.env.MQIOT_CHROMIUM ?? '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const SKIP =
  !existsSync(CHROMIUM) && !IN_CI
    ? `Chromium not found at ${CHROMIUM}: install Debian's 'chromium' or set MQIOT_CHROMIUM`
    : false;
const DEMO_DEVICES = 12;
const WAIT = { timeout: 20_000 };

describe('mqiot up --demo: the dashboard in headless Chromium (black box)', { skip: SKIP }, () => {
  let child: ChildProcess;
  let dir: string;
  let httpUrl: string;
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is required in CI and was not found at ${CHROMIUM}`);
    dir = mkdtempSync(join(tmpdir(), 'mqiot-web-up-'));
    child = spawn(
      process.execPath,
      [
        BIN,
        'up',
        '--demo',
        '--data-dir',
        dir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--http-port',
        '0',
        '--ws-port',
        'off',
        '--metrics-port',
        'off',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    httpUrl = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('mqiot up did not start in time')), 30_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; httpUrl?: string };
          if (entry.msg === 'mqiot up: running') {
            clearTimeout(timer);
            resolve(entry.httpUrl!);
          }
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`mqiot up exited early with ${code}`)));
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  });

  after(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the demo site online and its values changing live; SIGTERM stops it while the page is open', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${httpUrl}/`);
    await page.locator('tr[data-gateway="demo-site"] .badge[data-online="true"]').waitFor(WAIT);
    await page.waitForFunction(
      (n) => document.querySelectorAll('table.devices .badge[data-online="true"]').length === n,
      DEMO_DEVICES,
      WAIT,
    );
    assert.match((await page.locator('.summary').textContent()) ?? '', /^12 devices, 12 online/);

    await page.locator('a.device-link', { hasText: 'power-meter-1' }).click();
    const cell = page.locator('table.latest tr[data-point="holding.0"] .time');
    await cell.waitFor(WAIT);
    const first = await cell.textContent();
    // the demo polls every 2 s: a later reading replaces the time without a reload
    await page.waitForFunction(
      ([sel, before]) => document.querySelector(sel!)?.textContent !== before,
      ['table.latest tr[data-point="holding.0"] .time', first] as const,
      WAIT,
    );
    await page.locator('figure[data-point="holding.0"] svg.chart').waitFor(WAIT);
    assert.deepEqual(errors, []);

    // with the dashboard still open (its event stream never ends by itself) the process stops
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      new Promise((r) => child.once('exit', r)),
      new Promise((r) => (timer = setTimeout(() => r('still running 15 s after SIGTERM'), 15_000))),
    ]);
    clearTimeout(timer);
    assert.equal(code, 0);
    await page.close();
  });
});
