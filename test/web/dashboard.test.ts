// The web dashboard in a real headless Chromium against the real platform (broker in process, SQLite,
// HTTP API on port 0), fed through MQTT by a client standing in for a gateway. Asserts what a user
// sees: devices and their online state, live values without reload, charts, commands, contract
// decoding, readable errors, and names from devices shown as text.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { artifact, launchChromium, newPage, NO_CHROMIUM } from './browser.ts';
import type { Browser, Page } from 'playwright-core';
import { quietPeriod, waitFor } from '../support/wait.ts';
import { dltEnergyFrame, GATEWAY_ID, hex, modbusTcpFrame, startSite, type Site } from './site.ts';

const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/vectors/frames.json', import.meta.url), 'utf8'),
) as Record<string, { name: string; hex: string }[]>;
const vector = (group: string, name: RegExp) => {
  const v = vectors[group]!.find((x) => name.test(x.name));
  assert.ok(v, `vector ${name} in ${group}`);
  return v.hex;
};

const XSS_NAME = '<img src=x onerror="window.__xss = 1">';
const WAIT = { timeout: 30_000 }; // generous: the suite must pass with both cores busy
const MINUTE = 60_000;

describe('web dashboard in headless Chromium', { skip: NO_CHROMIUM }, () => {
  let site: Site;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const text = async (selector: string) =>
    ((await page.locator(selector).first().textContent()) ?? '').trim();
  const go = async (hash: string) => {
    await page.goto(`${site.url}/${hash}`);
  };

  before(async () => {
    browser = await launchChromium();
    site = await startSite();
    page = await newPage(browser, pageErrors);
    await site.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('serves the dashboard at / with a content security policy, and nothing but its own files', async () => {
    const index = await fetch(`${site.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await index.text(), /<script type="module" src="\/web\/js\/app\.js">/);
    const js = await fetch(`${site.url}/web/js/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /text\/javascript/);
    for (const path of ['/web/nope.js', '/web/..%2fplugin.ts', '/web/%2e%2e/%2e%2e/package.json']) {
      const res = await fetch(`${site.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found', path);
    }
    assert.equal((await site.api('/api/devices')).status, 200, 'the API is still there');
  });

  it('overview: an empty state first, then the gateway and devices appear online without a reload (SSE)', async () => {
    await go('');
    await page.getByText('No devices yet').waitFor(WAIT);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'same page'));

    await site.birth([
      { dev: 'meter-161', c: 'dlt645-2007', pollMs: MINUTE },
      { dev: 'pm-1', c: 'modbus-tcp', pollMs: MINUTE },
      { dev: 'xss-1', c: 'dlt645-2007', pollMs: MINUTE },
    ]);
    const now = Date.now();
    // ten minutes of history for pm-1 (rising), one reading each for the others
    const history = Array.from({ length: 10 }, (_, i) => ({
      dev: 'pm-1',
      c: 'modbus-tcp',
      ts: now - (9 - i) * MINUTE,
      raw: hex(modbusTcpFrame(i + 1, 100 + 10 * i, 7)),
      ctx: { unit: 1, function: 3, start: 0, count: 2 },
    }));
    await site.data([
      ...history,
      { dev: 'meter-161', c: 'dlt645-2007', ts: now, raw: hex(dltEnergyFrame(26)), ctx: { di: '00010000' } },
      { dev: 'xss-1', c: 'dlt645-2007', ts: now, raw: hex(dltEnergyFrame(5)), ctx: { di: '00010000' } },
    ]);

    for (const id of ['meter-161', 'pm-1', 'xss-1'])
      await page.locator(`tr[data-device="${id}"] .badge[data-online="true"]`).waitFor(WAIT);
    assert.equal(await text(`tr[data-gateway="${GATEWAY_ID}"] .badge`), 'online');
    assert.match(await text(`tr[data-gateway="${GATEWAY_ID}"]`), /3 \/ 3/);
    assert.match(await text('.summary'), /^3 devices, 3 online · 1 gateway, 1 online$/);
    assert.match(await text('tr[data-device="meter-161"] .since'), /\d\d:\d\d:\d\d/);
    assert.equal(await page.getByText('No devices yet').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: string }).marker), 'same page');
  });

  it('a device name with markup is shown as text, on the overview and the device page', async () => {
    const patched = await site.api('/api/devices/xss-1', {
      method: 'PATCH',
      json: { name: XSS_NAME, location: 'Room <b>7</b>' },
    });
    assert.equal(patched.status, 200);
    const link = page.locator('tr[data-device="xss-1"] a.device-link');
    await page.waitForFunction((name) => {
      const a = document.querySelector('tr[data-device="xss-1"] a.device-link');
      return a?.textContent === name;
    }, XSS_NAME);
    assert.equal(await link.textContent(), XSS_NAME);
    await link.click();
    await page.waitForFunction((name) => document.querySelector('h1')?.textContent === name, XSS_NAME, WAIT);
    await page.getByText('Room <b>7</b>').waitFor(WAIT);
    assert.equal(await page.locator('img').count(), 0, 'no <img> element was created');
    assert.equal(await page.locator('main b').count(), 0, 'no <b> element was created');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
  });

  it('device page: a value published after the page loaded appears without a reload, with its unit', async () => {
    await go('#/device/meter-161');
    const value = 'tr[data-point="energy_active_forward_total"] .value';
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '0.26', value, WAIT);
    assert.equal(await text('tr[data-point="energy_active_forward_total"] .unit'), 'kWh');
    await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'before the reading'));
    await site.data([
      {
        dev: 'meter-161',
        c: 'dlt645-2007',
        ts: Date.now(),
        raw: hex(dltEnergyFrame(1234)),
        ctx: { di: '00010000' },
      },
    ]);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '12.34', value, WAIT);
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: string }).marker),
      'before the reading',
    );
  });

  it('device page: a frame that fails to decode is listed live and opens in the contracts try box', async () => {
    await go('#/device/meter-161');
    await page.locator('table.latest').waitFor(WAIT);
    assert.equal(await page.locator('.bad-frames').isVisible(), false, 'hidden while there are none');
    const bad = vector('bad', /DL\/T 645 response with a wrong checksum/);
    await site.data([
      { dev: 'meter-161', c: 'dlt645-2007', ts: Date.now(), raw: hex(bad), ctx: { di: '00010000' } },
    ]);
    const item = page.locator('.bad-frames li.bad-frame').first();
    await item.waitFor(WAIT);
    const expected = await site.api('/api/contracts/dlt645-2007/try', {
      method: 'POST',
      json: { frame: bad },
    });
    assert.equal(
      await item.locator('.reason').textContent(),
      `byte ${expected.body.error.offset}: ${expected.body.error.reason}`,
    );
    await item.getByRole('link', { name: 'try it' }).click();
    await page.locator('.page.contracts .decode-error').waitFor(WAIT);
    assert.equal(await page.locator('select[name="contract"]').inputValue(), 'dlt645-2007');
    assert.match(
      await text('.decode-error'),
      new RegExp(`^Error at byte offset ${expected.body.error.offset}: `),
    );
  });

  it('device page: asset data edited in place, an SVG history chart per numeric point, range selector, CSV', async () => {
    await go('#/device/pm-1');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.fill('.asset-editor input[name="location"]', 'Plant room 2');
    await page.fill('.asset-editor input[name="type"]', 'power meter');
    await page.fill('.asset-editor input[name="tags"]', 'roof, phase-a');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Plant room 2').waitFor(WAIT);
    const props = await text('dl.props');
    assert.match(props, /Gateway\s*site-web/);
    assert.match(props, /Contract\s*modbus-tcp/);
    assert.match(props, /Type\s*power meter/);
    assert.match(props, /Tags\s*roof, phase-a/);
    const stored = await site.api('/api/devices/pm-1');
    assert.deepEqual(
      [stored.body.device.location, stored.body.device.type, stored.body.device.tags],
      ['Plant room 2', 'power meter', ['roof', 'phase-a']],
    );

    const line = page.locator('figure[data-point="holding.0"] svg.chart path.line');
    await line.waitFor(WAIT);
    const d = (await line.getAttribute('d')) ?? '';
    const drawn = Number(
      await page.locator('figure[data-point="holding.0"] svg.chart').getAttribute('data-points'),
    );
    const commands = [...d.matchAll(/([ML])(-?[\d.]+),(-?[\d.]+)/g)];
    assert.equal(drawn, 10, 'one bucket per reading in the last 15 minutes');
    assert.equal(commands.length, drawn, d);
    assert.equal(commands.filter((c) => c[1] === 'M').length, 1, 'readings a minute apart are one line');
    const ys = commands.map((c) => Number(c[3]));
    assert.ok(ys[0]! > ys[ys.length - 1]!, `rising values are drawn rising (svg y goes down): ${d}`);
    assert.ok(
      await page.locator('figure[data-point="holding.1"] svg.chart path.line').count(),
      'a chart per point',
    );

    const tips = await page
      .locator('figure[data-point="holding.0"] svg.chart circle.hit title')
      .allTextContents();
    assert.equal(tips.length, drawn, 'a tooltip per value');
    assert.match(tips[0]!, /: 100$/, 'the first reading, with its time');
    assert.match(tips.at(-1)!, /: 190$/, 'the last reading');
    const csvHref = await page.locator('a.csv').getAttribute('href');
    const csv = await (
      await fetch(`${site.url}${csvHref}`, { headers: { authorization: `Bearer ${site.token}` } })
    ).text();
    assert.equal(csv.split('\n').filter((l) => l.startsWith('pm-1,holding.0,')).length, 10, csv);

    await page.getByRole('button', { name: '24 h' }).click();
    await page.locator('button[data-range="24 h"][aria-pressed="true"]').waitFor(WAIT);
    await page
      .locator('figure[data-point="holding.0"] svg.chart path.line')
      .waitFor({ ...WAIT, state: 'attached' });

    // the chart's geometry, imported in the page as the dashboard uses it
    // (a string: tsx would wrap functions written here in helpers the page does not have)
    const geometry = (await page.evaluate(`(async () => {
      const chart = await import('/web/js/chart.js');
      const id = (v) => v;
      const points = [{ t: 0, v: 1 }, { t: 1, v: 2 }, { t: 10, v: 3 }];
      return { ticks: chart.niceTicks(3, 97, 4), gap: chart.linePath(points, id, id, 5) };
    })()`)) as { ticks: number[]; gap: string };
    assert.deepEqual(geometry.ticks, [20, 40, 60, 80]);
    assert.equal(geometry.gap, 'M0.0,1.0L1.0,2.0M10.0,3.0', 'a gap longer than gapMs starts a new segment');
  });

  it('commands: the form shows pending → sent → executed, an unanswered command ends failed, bad JSON is refused', async () => {
    site.answers.add('pm-1');
    await go('#/device/pm-1');
    await page
      .locator('select[name="action"] option[value="write-single-register"]')
      .waitFor({ state: 'attached', ...WAIT });
    await page.selectOption('select[name="action"]', 'write-single-register');

    await page.fill('textarea[name="params"]', '{"unit": 1, "address": 3,');
    await page.getByRole('button', { name: 'Send command' }).click();
    await page.locator('.command-form .error').waitFor(WAIT);
    assert.match(await text('.command-form .error'), /^Parameters: .*JSON/);

    await page.fill('textarea[name="params"]', '{"unit": 1, "address": 3, "value": 9}');
    await page.getByRole('button', { name: 'Send command' }).click();
    const done = page.locator('li.command[data-state="executed"]');
    await done.waitFor(WAIT);
    const steps = await done
      .locator('li.step')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    // pending, sent, executed — with a timed-out and a resend between when the machine is slow
    // (the site's command timeout is short, for the unanswered command below)
    assert.match(steps.join(' '), /^pending sent( timed-out sent)* executed$/);
    assert.match((await done.textContent()) ?? '', /write-single-register/);

    await page.getByRole('button', { name: 'Query gateway status' }).click();
    const query = page.locator('li.command[data-state="executed"]', { hasText: 'status query' });
    await query.waitFor(WAIT);
    assert.match(
      (await query.textContent()) ?? '',
      /"devices": \[\s*"pm-1"\s*\]/,
      'the gateway answered for this device',
    );

    await go('#/device/meter-161');
    await page.locator('select[name="action"] option[value="read"]').waitFor({ state: 'attached', ...WAIT });
    await page.selectOption('select[name="action"]', 'poll');
    await page.fill('textarea[name="params"]', '');
    await page.getByRole('button', { name: 'Send command' }).click();
    const failed = page.locator('li.command[data-state="failed"]');
    await failed.waitFor(WAIT);
    const failedSteps = await failed
      .locator('li.step')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    assert.equal(failedSteps[0], 'pending');
    assert.equal(failedSteps.at(-1), 'failed');
    assert.equal(failedSteps.filter((s) => s === 'timed-out').length, 3, failedSteps.join(' → '));
  });

  it('gateway page: online state, its devices, its reports and a status query answered by the gateway', async () => {
    const polledAt = Date.now() - 5000;
    await site.report({
      uptimeS: 4242,
      queueDepth: 0,
      devices: { 'pm-1': { lastPollAt: polledAt, errors: 0, note: 'x'.repeat(300) } },
    });
    await go('');
    await page.locator(`tr[data-gateway="${GATEWAY_ID}"] a.gateway-link`).click();
    await page.locator('.page.gateway h1', { hasText: GATEWAY_ID }).waitFor(WAIT);
    assert.equal(await text('.page.gateway .state-line .badge'), 'online');
    await page.locator('.page.gateway table.devices tr[data-device]').nth(2).waitFor(WAIT);
    const rows = await page
      .locator('.page.gateway table.devices tr[data-device]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-device')).sort());
    assert.deepEqual(rows, ['meter-161', 'pm-1', 'xss-1']);
    assert.equal(await page.locator('img').count(), 0);
    // the report as rows of readable values, not a JSON string running out of its column
    const report = page.locator('.reports .report-body').first();
    await report.waitFor(WAIT);
    const reportText = await report.innerText();
    assert.match(reportText, /uptimeS\s+4242/);
    assert.match(reportText, /devices\.pm-1\.lastPollAt/);
    assert.doesNotMatch(reportText, /\{"|\b1\d{12}\b/, 'no raw JSON, no epoch milliseconds');
    const overflow = await page.locator('.reports').evaluate((el) => el.scrollWidth - el.clientWidth);
    assert.ok(overflow <= 0, `the reports overflow their column by ${overflow} px`);
    // events: times as times, never epoch numbers
    await page.locator('.page.gateway .events li').first().waitFor(WAIT);
    assert.doesNotMatch(await text('.page.gateway ul.events:not(.reports)'), /\b1\d{12}\b/);
    await page.screenshot({ path: artifact('gateway-page.png'), fullPage: true });

    // the query sent from pm-1's page is listed already; the new one comes first
    await page.locator('.page.gateway li.command').first().waitFor(WAIT);
    const before = await page.locator('.page.gateway li.command').count();
    await page.getByRole('button', { name: 'Query status' }).click();
    await page.waitForFunction(
      (n) => document.querySelectorAll('.page.gateway li.command').length === n,
      before + 1,
      WAIT,
    );
    const answered = page.locator('.page.gateway li.command').first();
    await page.locator('.page.gateway li.command[data-state="executed"]').nth(before).waitFor(WAIT);
    const steps = await answered
      .locator('li.step')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    assert.deepEqual(steps, ['pending', 'sent', 'executed']);
  });

  it('contracts: decodes pasted DL/T 645 and Modbus frames and shows the byte offset of a bad one', async () => {
    await go('#/contracts');
    await page.locator('tr[data-contract="dlt645-2007"]').waitFor(WAIT);
    assert.match(await text('tr[data-contract="dlt645-2007"]'), /built-in/);

    const decode = async (contract: string, frame: string, context = '') => {
      await page.selectOption('select[name="contract"]', contract);
      await page.fill('textarea[name="frame"]', frame);
      await page.fill('textarea[name="context"]', context);
      await page.getByRole('button', { name: 'Decode' }).click();
      await page.locator('.decode-output > *').waitFor(WAIT);
    };

    await decode('dlt645-2007', vector('dlt645_2007', /^read response, forward active total energy$/));
    const energy = page.locator('.decode-ok tr[data-point="energy_active_forward_total"]');
    await energy.waitFor(WAIT);
    assert.deepEqual(await energy.locator('td').allTextContents(), [
      'energy_active_forward_total',
      '0.26',
      'kWh',
    ]);
    assert.match(await text('.decode-ok tr[data-field="address"]'), /000000000161/);

    await decode('modbus-rtu', vector('modbus_rtu', /^read input registers response/));
    await page.locator('.decode-ok tr[data-point="input.1"]').waitFor(WAIT);
    assert.match(await text('.decode-ok tr[data-point="input.1"]'), /2278/);

    for (const [contract, name] of [
      ['dlt645-2007', /DL\/T 645 response with a wrong checksum/],
      ['modbus-rtu', /Modbus RTU response with a wrong CRC/],
      ['dlt645-2007', /DL\/T 645 frame cut short/],
    ] as const) {
      const frame = vector('bad', name);
      const expected = await site.api(`/api/contracts/${contract}/try`, { method: 'POST', json: { frame } });
      assert.equal(expected.body.ok, false);
      await decode(contract, frame);
      await page.locator('.decode-error').waitFor(WAIT);
      const shown = await text('.decode-error');
      assert.ok(shown.startsWith(`Error at byte offset ${expected.body.error.offset}: `), shown);
      assert.ok(shown.includes(expected.body.error.reason), shown);
      assert.equal(
        await page.locator('.decode-error .byte.bad').getAttribute('title'),
        `offset ${expected.body.error.offset}`,
      );
    }

    // upload: a contract whose inline test fails is refused with the failing case; a good one is stored
    const contract = (value: string) =>
      [
        'id: web-test-temp',
        'version: 1.0.0',
        'name: Web test sensor',
        'endian: big',
        'seq:',
        '  - { const: [0x7E] }',
        "  - { name: temperature, type: i16, scale: 0.1, unit: '°C', point: temperature }",
        'tests:',
        '  - name: 21.5 degrees',
        '    hex: 7E 00 D7',
        `    points: { temperature: { value: ${value}, unit: '°C' } }`,
      ].join('\n');
    await page.fill('textarea[name="source"]', contract('99'));
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('.upload + div .error').waitFor(WAIT);
    assert.match(
      await text('.upload + div .error'),
      /^Not stored: 1 of 1 inline tests failed \(contract_tests_failed\)/,
    );
    assert.match(await text('.failed-tests'), /^21\.5 degrees: /);
    await page.fill('textarea[name="source"]', contract('21.5'));
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('tr[data-contract="web-test-temp"]').waitFor(WAIT);
    assert.match(await text('tr[data-contract="web-test-temp"]'), /Web test sensor\s*1\.0\.0\s*stored/);
    assert.match(
      await text('.upload + div .ok'),
      /Stored web-test-temp version 1\.0\.0; inline tests: 1 passed, 0 failed/,
    );
    await decode('web-test-temp', '7E FF 38');
    assert.deepEqual(await page.locator('.decode-ok tr[data-point="temperature"] td').allTextContents(), [
      'temperature',
      '-20',
      '°C',
    ]);

    // edit: the stored source comes back into the box; a new version replaces the listed one. The box
    // is emptied first: it still holds the uploaded text, so only an empty box shows when the stored
    // source has arrived (otherwise a late arrival overwrites the edit below, seen on a busy machine)
    await page.fill('textarea[name="source"]', '');
    await page.locator('tr[data-contract="web-test-temp"] button[name="edit"]').click();
    await page.waitForFunction(
      () => (document.querySelector('textarea[name="source"]') as HTMLTextAreaElement | null)?.value,
      undefined,
      WAIT,
    );
    const edited = (await page.locator('textarea[name="source"]').inputValue())
      .replace('version: 1.0.0', 'version: 1.1.0')
      .replace('name: Web test sensor', 'name: Web test sensor mk2');
    assert.match(edited, /id: web-test-temp[\s\S]*version: 1\.1\.0/);
    await page.fill('textarea[name="source"]', edited);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('tr[data-contract="web-test-temp"]', { hasText: '1.1.0' }).waitFor(WAIT);
    assert.match(await text('tr[data-contract="web-test-temp"]'), /Web test sensor mk2/);
    assert.equal(
      await page.locator('tr[data-contract="dlt645-2007"] button[name="edit"]').count(),
      0,
      'built-ins are not edited',
    );

    await decode('dlt645-2007', 'zz 61');
    assert.match(await text('.decode-output .error'), /^Cannot decode: frame: must be hex bytes/);
    await decode('dlt645-2007', '68 16', '{"di": ');
    assert.match(await text('.decode-output .error'), /^Context: /);
  });

  it('after the live stream was interrupted, the overview reads again what it missed', async () => {
    const streams = new Set<ServerResponse>();
    const track = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/api/stream')) streams.add(res);
    };
    site.app.api.server.on('request', track);
    await go('');
    await page.locator('tr[data-device="pm-1"]').waitFor(WAIT);
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    await page.reload(); // a stream opened while we listen
    await page.locator('#live[data-state="live"]').waitFor(WAIT);
    site.app.api.server.off('request', track);
    assert.ok(streams.size > 0, 'the page holds a stream');
    // the connection drops, and reconnecting fails until we let it through again
    await page.route('**/api/stream*', (route) => route.abort());
    for (const res of streams) res.destroy();
    await page.locator('#live[data-state="reconnecting"], #live[data-state="closed"]').waitFor(WAIT);
    await site.birth([{ dev: 'late-1', c: 'dlt645-2007', pollMs: MINUTE }]);
    await site.data([
      {
        dev: 'late-1',
        c: 'dlt645-2007',
        ts: Date.now(),
        raw: hex(dltEnergyFrame(7)),
        ctx: { di: '00010000' },
      },
    ]);
    await waitFor(
      'late-1 online in the API',
      async () => (await site.api('/api/devices/late-1')).body.device?.online === true,
      10_000,
    );
    // Barrier: the API has the device, so a page with a working stream would be drawing it now; the
    // page's stream is cut, and this short window is for anything else (a reload) that would bring it.
    await quietPeriod(300);
    assert.notEqual(await page.locator('#live').getAttribute('data-state'), 'live', 'still disconnected');
    assert.equal(await page.locator('tr[data-device="late-1"]').count(), 0, 'missed while disconnected');
    await page.unroute('**/api/stream*');
    await page.locator('tr[data-device="late-1"] .badge[data-online="true"]').waitFor({ timeout: 20_000 });
  });

  it('API failures are shown as readable messages', async () => {
    await go('#/device/no-such-device');
    await page.locator('.page.device .error').waitFor(WAIT);
    assert.match(await text('.page.device .error'), /device 'no-such-device' not found \(not_found\)/);
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
