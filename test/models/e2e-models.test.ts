// End to end through a real broker and platform: simulators → gateway → broker → platform → HTTP API.
// A power meter first seen is registered with its model (identified from its frames, with how sure)
// and named points; a DL/T 645 meter gets the model its gateway declares; a sensor whose contract and
// model exist only as files on the gateway is kept undecoded until the platform, seeing them in the
// birth's catalog, has asked for them, checked and installed them — then decodes with its named points.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { builtinContractSource } from '../../src/contracts/index.ts';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import { Gateway, parseGatewayConfig } from '../../src/gateway/index.ts';
import { startPushSensor, type PushSensor } from '../../src/sim/push-sensor.ts';
import { startSimulators, type Simulators } from '../../src/sim/index.ts';
import type { Json } from '../platform/helpers.ts';
import { startEdge } from '../support/live.ts';
import { waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

const SITE_MODEL = `id: site-th-sensor
version: 1.0.0
name: Site TH sensor
contracts: [acme-th10-site]
points:
  - { name: room_temperature, from: temperature, unit: '°C' }
  - { name: room_humidity, from: humidity, unit: '%' }
tests:
  - name: a report
    hex: AA 55 10 01 00 A1 B2 C3 05 09 29 02 00 0B C4 23 45 00 01 C3 A9
    points: { room_temperature: 23.45 }
`;

describe('device models end to end (simulators, gateway, broker, platform)', () => {
  let system: AllInOne;
  let sims: Simulators;
  let gateway: Gateway;
  let sensor: PushSensor | undefined;
  let dir: string;
  let token = '';
  const api = async (path: string) => {
    const res = await fetch(`${system.httpUrl}${path}`, { headers: bearer(token) });
    return { status: res.status, body: (await res.json()) as Json };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-models-e2e-'));
    system = await startEdge(dir, { tickMs: 100, heartbeatIntervalMs: 1000 });
    token = await testToken(system.app.store, 'admin');
    sims = await startSimulators({
      modbusTcp: { host: '127.0.0.1', port: 0, units: [1] },
      dlt645: { transport: 'tcp', host: '127.0.0.1', port: 0, addresses: ['000000000161'] },
    });
    // a contract and a model that only the gateway has, as files
    const contractFile = join(dir, 'acme-th10-site.yaml');
    writeFileSync(
      contractFile,
      builtinContractSource('acme-th10').replace('id: acme-th10', 'id: acme-th10-site'),
    );
    const modelFile = join(dir, 'site-th-sensor.yaml');
    writeFileSync(modelFile, SITE_MODEL);
    const config = parseGatewayConfig({
      gateway: { id: 'models-site' },
      mqtt: { urls: [system.mqttUrl], reconnectMs: 100 },
      batching: { windowMs: 200 },
      queue: { path: join(dir, 'gw-queue.db') },
      devices: [
        {
          id: 'pm-1',
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit: 1 },
          poll: [
            {
              name: 'meter',
              message: 'read-holding-registers',
              params: { start: 0, count: 11 },
              everyMs: 300,
            },
          ],
        },
        {
          id: 'meter-161',
          contract: 'dlt645-2007',
          model: 'sim-energy-meter',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.dlt645!.port },
          params: { address: '000000000161' },
          poll: [{ name: 'energy', message: 'read', params: { di: '00010000' }, everyMs: 300 }],
        },
        {
          id: 'th-1',
          contract: contractFile,
          model: modelFile,
          transport: { type: 'tcp-listen', host: '127.0.0.1', port: 0 },
        },
      ],
    });
    gateway = new Gateway(config);
    await gateway.start();
    sensor = startPushSensor({
      sensorId: 31,
      format: 'fixed',
      transport: 'tcp',
      host: '127.0.0.1',
      port: gateway.listenerPorts.get('th-1')!,
      intervalMs: 300,
    });
  });

  after(async () => {
    await sensor?.close();
    await gateway?.stop({ graceful: false }).catch(() => undefined);
    await sims?.close();
    await system?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a power meter first seen is registered with its model, how sure, and named points with units', async () => {
    const model = await waitFor(
      'pm-1 identified',
      async () => (await api('/api/devices/pm-1/model')).body.model,
      60_000,
    );
    assert.equal(model.modelId, 'sim-power-meter');
    assert.equal(model.identifiedBy, 'detected');
    assert.ok(model.confidence >= 0.8 && model.confidence < 1, String(model.confidence));
    const device = (await api('/api/devices/pm-1')).body;
    assert.equal(device.device.contractId, 'modbus-tcp');
    assert.equal(device.device.model, 'sim-power-meter');
    const latest = new Map(device.latest.map((p: Json) => [p.name, p]));
    const volts = latest.get('voltage_l1') as Json;
    assert.equal(volts?.unit, 'V', JSON.stringify(device.latest));
    assert.ok(volts.value > 200 && volts.value < 260, `voltage ${volts.value}`);
    assert.equal((latest.get('frequency') as Json)?.unit, 'Hz');
    assert.ok(
      ![...latest.keys()].some((name) => String(name).startsWith('holding.')),
      [...latest.keys()].join(),
    );
  });

  it('a model the gateway declares is taken with confidence 1', async () => {
    const model = await waitFor(
      'meter-161 model',
      async () => (await api('/api/devices/meter-161/model')).body.model,
      60_000,
    );
    assert.deepEqual(
      [model.modelId, model.identifiedBy, model.confidence],
      ['sim-energy-meter', 'declared', 1],
    );
  });

  it("the gateway's own contract and model: asked for, installed, then its frames decode with named points", async () => {
    const catalog = await waitFor(
      'catalog settled',
      async () => {
        const items = (await api('/api/gateways/models-site/catalog')).body.items as Json[];
        return items.length > 0 && !items.some((i) => i.state === 'missing') ? items : undefined;
      },
      60_000,
    );
    const states = Object.fromEntries(catalog.map((i: Json) => [`${i.kind}:${i.id}`, i.state]));
    assert.deepEqual(states, {
      'contract:modbus-tcp': 'same',
      'contract:dlt645-2007': 'same',
      'model:sim-energy-meter': 'same',
      'contract:acme-th10-site': 'installed',
      'model:site-th-sensor': 'installed',
    });
    const latest = await waitFor(
      'th-1 named points',
      async () => {
        const items = (await api('/api/devices/th-1/latest')).body.items as Json[];
        return items.some((p) => p.name === 'room_temperature') ? items : undefined;
      },
      60_000,
    );
    assert.equal(latest.find((p: Json) => p.name === 'room_temperature').unit, '°C');
    const device = (await api('/api/devices/th-1')).body.device;
    assert.equal(device.contractId, 'acme-th10-site', 'not a guess by detection');
    const model = (await api('/api/devices/th-1/model')).body.model;
    assert.deepEqual([model.modelId, model.identifiedBy], ['site-th-sensor', 'declared']);
    // frames that came before the contract did are kept, undecoded, saying why
    const early = (await api('/api/devices/th-1/frames?errors=true')).body.items as Json[];
    for (const f of early)
      assert.match(f.error.reason, /awaiting the gateway's copy of contract 'acme-th10-site'/);
  });
});
