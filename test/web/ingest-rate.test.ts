// The overview's ingest rate in a real headless Chromium: while a gateway publishes data groups over
// MQTT, the page shows the readings per second the platform stores (from GET /api/ingest).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import { dltEnergyFrame, hex, startSite, type Site } from './site.ts';

describe('overview ingest rate in headless Chromium', { skip: NO_CHROMIUM }, () => {
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

  it('shows readings/s while data flows, from the platform counter', async () => {
    const before = (await site.api('/api/ingest')).body as { readingsTotal: number; at: number };
    assert.equal(before.readingsTotal, 0);
    await page.goto(`${site.url}/`);
    const ingest = page.locator('.ingest');
    await ingest.getByText(/Ingest: (measuring…|0 readings\/s)/).waitFor({ timeout: 10_000 });
    await site.birth([{ dev: 'rate-1', c: 'dlt645-2007' }]);
    let flowing = true;
    const flow = (async () => {
      // ten readings per group, a group every 50 ms, until the page has shown a rate
      for (let n = 0; flowing; n++) {
        const frames = Array.from({ length: 10 }, () => ({
          dev: 'rate-1',
          c: 'dlt645-2007',
          ts: Date.now(),
          raw: hex(dltEnergyFrame(n)),
        }));
        await site.data(frames);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      await ingest.getByText(/^Ingest: [1-9][\d,]* readings\/s$/).waitFor({ timeout: 15_000 });
    } finally {
      flowing = false;
      await flow;
    }
    const afterFlow = (await site.api('/api/ingest')).body as { readingsTotal: number; at: number };
    assert.ok(afterFlow.readingsTotal >= 10, `readingsTotal ${afterFlow.readingsTotal}`);
    assert.ok(afterFlow.at >= before.at);
    assert.deepEqual(pageErrors, []);
  });
});
