// The live stream in a real headless Chromium: its parser takes the server-sent events format cut
// anywhere, and the device page's "Last data" moves with each reading, as the latest values beside it
// do, instead of waiting for the next reload.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { artifact, launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import { dltEnergyFrame, hex, startSite, type Site } from './site.ts';

const WAIT = { timeout: 20_000 };
const MINUTE = 60_000;

describe('live stream in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let site: Site;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    browser = await launchChromium();
    site = await startSite();
    page = await newPage(browser, pageErrors);
    await site.signIn(page, 'viewer');
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('parses server-sent events in chunks cut anywhere: event names, multi-line data, comments, CRLF', async () => {
    await page.goto(`${site.url}/`);
    const events = await page.evaluate(async () => {
      const { eventStreamParser } = await import('/web/js/event-stream.js' as string);
      const out: [string, string][] = [];
      const push = eventStreamParser((type: string, data: string) => out.push([type, data]));
      const text =
        ': connected\n\nevent: telemetry\ndata: {"a":1}\n\n: keepalive\n\n' +
        'event: event\r\ndata: line 1\r\ndata:line 2\r\n\r\ndata: plain\n\nevent: empty\n\n';
      // one character at a time, then all at once: the same events
      for (const ch of text) push(ch);
      const whole: [string, string][] = [];
      eventStreamParser((type: string, data: string) => whole.push([type, data]))(text);
      return { out, whole };
    });
    const expected = [
      ['telemetry', '{"a":1}'],
      ['event', 'line 1\nline 2'],
      ['message', 'plain'],
    ];
    assert.deepEqual(events.out, expected);
    assert.deepEqual(events.whole, expected);
  });

  it('device page: "Last data" follows each reading without a reload', async () => {
    await site.birth([{ dev: 'ld-1', c: 'dlt645-2007', pollMs: MINUTE }]);
    const first = Date.now();
    await site.data([
      { dev: 'ld-1', c: 'dlt645-2007', ts: first, raw: hex(dltEnergyFrame(100)), ctx: { di: '00010000' } },
    ]);
    await page.goto(`${site.url}/#/device/ld-1`);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    const lastData = page.locator('.asset .last-data time');
    await lastData.waitFor(WAIT);
    await page.locator('table.latest tr[data-point] .time').first().waitFor(WAIT);
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'same page'));

    // a reading later than anything the registry had when the page loaded (the registry keeps the
    // time the platform received a group, so a reading stamped ahead of it is what only the stream shows)
    const next = Date.now() + 5_000;
    await site.data([
      { dev: 'ld-1', c: 'dlt645-2007', ts: next, raw: hex(dltEnergyFrame(101)), ctx: { di: '00010000' } },
    ]);
    await page.waitForFunction(
      (ts) => document.querySelector('.asset .last-data time')?.getAttribute('data-ms') === String(ts),
      next,
      WAIT,
    );
    assert.equal(await page.locator('table.latest tr[data-point] .value').first().textContent(), '1.01');
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: string }).marker), 'same page');
    await page.screenshot({ path: artifact('device-last-data.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
