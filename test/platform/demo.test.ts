// `mqiot up --demo` in process: a dozen simulated devices of several protocols register and report.
import { testBrokerConfig } from '../support/live.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { startAllInOne, type AllInOne } from '../../src/app/all-in-one.ts';
import { startDemoSite } from '../../src/app/demo-site.ts';
import { waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

describe('demo site (mqiot up --demo)', () => {
  let system: AllInOne;
  let token = '';
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-demo-'));
    system = await startAllInOne({
      broker: testBrokerConfig(),
      dataDir: dir,
      http: { host: '127.0.0.1', port: 0 },
      logger: createLogger({ level: 'silent' }),
      demo: (ctx) => startDemoSite({ ...ctx, pollMs: 300 }),
      announce: () => undefined,
    });
    token = await testToken(system.app.store, 'viewer');
  });
  after(async () => {
    await system?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a dozen devices of several protocols register themselves and their readings arrive within seconds', async () => {
    let devices: { id: string; contractId: string; online: boolean }[] = [];
    await waitFor(
      () => `12 devices online: ${JSON.stringify(devices.map((d) => [d.id, d.online]))}`,
      async () => {
        const res = await fetch(`${system.httpUrl}/api/devices?limit=100`, { headers: bearer(token) });
        devices = ((await res.json()) as { items: typeof devices }).items;
        return devices.length === 12 && devices.every((d) => d.online);
      },
      20_000,
    ).catch(() => undefined); // the assertions below say what is missing
    assert.equal(devices.length, 12);
    assert.ok(
      devices.every((d) => d.online),
      JSON.stringify(devices.filter((d) => !d.online).map((d) => d.id)),
    );
    const protocols = new Set(devices.map((d) => d.contractId));
    assert.ok(protocols.size >= 3, `protocols: ${[...protocols].join(', ')}`);
    const meter = (await (
      await fetch(`${system.httpUrl}/api/devices/energy-meter-1/latest`, { headers: bearer(token) })
    ).json()) as {
      items: { name: string; unit: string }[];
    };
    assert.deepEqual(
      meter.items.map((p) => [p.name, p.unit]),
      [
        ['energy_active_forward_total', 'kWh'],
        ['voltage_a', 'V'],
      ],
    );
  });
});
