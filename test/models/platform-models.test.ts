// The platform with device models (in process, fake clock, real SQLite, the real contracts): a device
// first seen is identified to its model with a confidence and its points are named; a declared model
// is taken at once; an operator can set one; a gateway's birth catalog makes the platform ask for the
// contract it lacks, keep that contract's frames undecoded meanwhile, and install the gateway's copy.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { builtinModelSource, catalogHash } from '../../src/contracts/models/index.ts';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { buildApi } from '../../src/platform/http/server.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';
import { authedInject, testToken } from '../support/auth.ts';
import { RecordingDownlink, tempStore, type Json } from '../platform/helpers.ts';

const T0 = Date.UTC(2026, 0, 1);
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const METER_POLL =
  '00 01 00 00 00 19 01 03 16 08 FD 02 00 04 7E 00 00 30 39 13 8A 03 B6 00 D7 00 01 08 FB 09 06';
/** A vendor frame whose CRC-16/MODBUS makes it look like a Modbus RTU exception to detection. */
const PULSE_FRAME = '11 83 02 C1 34';
const PULSE_CONTRACT = `id: vendor-pulse
version: 1.0.0
framing: { min: 5, max: 5 }
checksums:
  - { name: crc, algorithm: crc16-modbus, from: 0, to: -2, at: -2, endian: little }
seq:
  - { name: channel, type: u8 }
  - { name: flags, type: u8 }
  - { name: pulses, type: u8, point: pulses }
  - { name: crc, type: u16le }
tests:
  - { name: a report, hex: '${PULSE_FRAME}', expect: { pulses: 2 } }
`;

describe('device models on the platform', () => {
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let app: FastifyInstance;
  let inject: ReturnType<typeof authedInject>;
  const clock = new FakeClock(T0);
  const downlink = new RecordingDownlink();
  let seq = 1;
  const send = async (envelope: Envelope) => {
    platform.handleUplink(`mqiot/gw/${envelope.gw}/up`, encodeEnvelope(envelope));
    await platform.whenIdle();
  };
  const data = (
    gw: string,
    frames: { dev: string; c: string; raw: string; ctx?: Record<string, unknown> }[],
  ) =>
    send({
      v: 1,
      k: 'data',
      gw,
      seq: seq++,
      ts: clock.now(),
      frames: frames.map((f, i) => ({ ...f, raw: hex(f.raw), ts: clock.now(), seq: seq * 10 + i })),
    });
  const api = async (method: 'GET' | 'PUT' | 'POST', url: string, payload?: unknown) => {
    const res = await inject({
      method,
      url,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return { status: res.statusCode, body: res.json() as Json };
  };

  before(async () => {
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store);
    await contracts.load();
    platform = new Platform({}, { store, contracts, secretHashing: mosquittoHashing, clock });
    platform.attach(downlink);
    await platform.start({ timers: false });
    app = await buildApi(platform);
    inject = authedInject(app, await testToken(store, 'admin'));
  });
  after(async () => {
    await app.close();
    await platform.stop();
    await cleanup();
  });

  it('a Modbus device first seen in a data group is identified to its model, its points named', async () => {
    await data('gw-1', [{ dev: 'pm-1', c: 'modbus-tcp', raw: METER_POLL, ctx: { start: 0, count: 11 } }]);
    const { body } = await api('GET', '/api/devices/pm-1/model');
    assert.equal(body.model.modelId, 'sim-power-meter');
    assert.equal(body.model.identifiedBy, 'detected');
    assert.equal(body.model.confidence, 0.833);
    assert.equal(body.info.name, 'Simulated power meter');
    const latest = new Map((await store.latest('pm-1')).map((p) => [p.name, p]));
    assert.equal(latest.get('voltage_l1')?.value, 230.1);
    assert.equal(latest.get('voltage_l1')?.unit, 'V');
    assert.equal(latest.get('energy')?.value, 123.45);
    assert.equal(latest.has('holding.0'), false, 'no bare register names');
    const telemetry = downlink.telemetry().at(-1)!.body;
    assert.ok((telemetry.points as { name: string }[]).some((p) => p.name === 'frequency'));
    assert.equal((await store.getDevice('pm-1'))?.model, 'sim-power-meter', 'the asset model is filled in');
    const events = await store.listEvents({ subjectId: 'pm-1', kind: 'model-identified' });
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.detail.missing, []);
  });

  it('a DL/T 645 meter starts as "any meter" and becomes the simulated one as its frames come', async () => {
    await data('gw-1', [
      { dev: 'em-1', c: 'dlt645-2007', raw: '68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16' },
    ]);
    assert.equal(platform.deviceModels.get('em-1')?.modelId, 'dlt645-meter');
    await data('gw-1', [
      { dev: 'em-1', c: 'dlt645-2007', raw: '68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16' },
    ]);
    assert.deepEqual(
      [platform.deviceModels.get('em-1')?.modelId, platform.deviceModels.get('em-1')?.confidence],
      ['sim-energy-meter', 0.8],
    );
    const latest = new Map((await store.latest('em-1')).map((p) => [p.name, p.value]));
    assert.equal(latest.get('voltage_a'), 100.1, 'the contract names a DL/T 645 meter already');
  });

  it('a model declared in the birth is taken with confidence 1; an operator may set another', async () => {
    await send({
      v: 1,
      k: 'birth',
      gw: 'gw-2',
      seq: seq++,
      ts: clock.now(),
      epoch: 'e2',
      devices: [{ dev: 'sdm-1', c: 'modbus-rtu', model: 'eastron-sdm120' }],
    });
    assert.deepEqual(
      [platform.deviceModels.get('sdm-1')?.identifiedBy, platform.deviceModels.get('sdm-1')?.confidence],
      ['declared', 1],
    );
    const set = await api('PUT', '/api/devices/pm-1/model', { modelId: 'eastron-sdm120' });
    assert.equal(set.status, 200);
    assert.equal(set.body.model.identifiedBy, 'operator');
    assert.equal((await api('PUT', '/api/devices/pm-1/model', { modelId: 'nope' })).status, 404);
    assert.equal((await api('PUT', '/api/devices/pm-1/model', { modelId: 'sim-power-meter' })).status, 200);
    const missing = await api('POST', '/api/devices/pm-1/model-commands/explode', {});
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /relay-on, relay-off/);
  });

  it('models are listed, read, checked, tried and uploaded through the API', async () => {
    const list = await api('GET', '/api/models');
    assert.ok(list.body.items.some((m: Json) => m.id === 'sim-power-meter' && m.builtin));
    const one = await api('GET', '/api/models/sim-power-meter');
    assert.equal(one.body.hash, catalogHash(builtinModelSource('sim-power-meter')));
    const tried = await api('POST', '/api/models/try', { frame: METER_POLL });
    assert.equal(tried.body.contract, 'modbus-tcp', 'found by detection');
    assert.equal(tried.body.scores[0].model, 'sim-power-meter');
    assert.ok(tried.body.points.some((p: Json) => p.name === 'voltage_l1' && p.value === 230.1));
    const source = `id: my-meter\ncontracts: [modbus-tcp]\npoints:\n  - { name: volts, from: holding.0, scale: 0.1, unit: V }\ntests:\n  - { name: t, hex: '${METER_POLL}', points: { volts: 230.1 } }\n`;
    const checked = await api('POST', '/api/models/check', { source });
    assert.equal(checked.body.tests.passed, 1);
    const bad = await api('POST', '/api/models', { source: source.replace('230.1', '230') });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.code, 'model_tests_failed');
    const invalid = await api('POST', '/api/models', { source: 'id: x\ncontracts: [no-such]\n' });
    assert.equal(invalid.status, 422);
    assert.match(invalid.body.error.message, /unknown contract 'no-such'/);
    const builtin = await api('POST', '/api/models', { source: builtinModelSource('acme-th10') });
    assert.equal(builtin.status, 409);
    const uploaded = await api('POST', '/api/models', { source });
    assert.equal(uploaded.status, 201);
    const withSource = await api('POST', '/api/models/try', { frame: METER_POLL, model: 'my-meter' });
    assert.deepEqual(withSource.body.points[0], { name: 'volts', value: 230.1, unit: 'V' });
  });

  it('a device no model fits stops being examined, and is examined again when a model is added', async () => {
    // registers 50-51 of some other device: nothing built in fits
    const other = '00 01 00 00 00 07 01 03 04 00 2A 00 07';
    for (let i = 0; i < 21; i++)
      await data('gw-1', [{ dev: 'odd-1', c: 'modbus-tcp', raw: other, ctx: { start: 50 } }]);
    assert.equal(platform.deviceModels.get('odd-1'), undefined);
    const source = `id: odd-device\ncontracts: [modbus-tcp]\npoints:\n  - { name: level, from: holding.50, unit: m }\nidentify:\n  points: { level: { min: 40, max: 45 }, holding.51: {} }\n`;
    assert.equal((await api('POST', '/api/models', { source })).status, 201);
    await data('gw-1', [{ dev: 'odd-1', c: 'modbus-tcp', raw: other, ctx: { start: 50 } }]);
    assert.equal(platform.deviceModels.get('odd-1')?.modelId, 'odd-device');
    assert.equal((await store.latest('odd-1')).find((p) => p.name === 'level')?.value, 42);
  });

  it('a birth catalog naming a contract the platform lacks: asked for, frames kept undecoded, then installed', async () => {
    const item = {
      kind: 'contract' as const,
      id: 'vendor-pulse',
      version: '1.0.0',
      hash: catalogHash(PULSE_CONTRACT),
    };
    const model = {
      kind: 'model' as const,
      id: 'sim-power-meter',
      version: '1.0.0',
      hash: catalogHash(builtinModelSource('sim-power-meter')),
    };
    await send({
      v: 1,
      k: 'birth',
      gw: 'gw-3',
      seq: seq++,
      ts: clock.now(),
      epoch: 'e3',
      devices: [{ dev: 'pulse-1', c: 'vendor-pulse' }],
      catalog: [item, model],
    });
    const request = downlink.down('catalog-request').at(-1) as Json;
    assert.deepEqual(
      request.items,
      [{ kind: 'contract', id: 'vendor-pulse' }],
      'the model it has is not asked for',
    );
    let catalog = await api('GET', '/api/gateways/gw-3/catalog');
    assert.deepEqual(
      catalog.body.items.map((i: Json) => [i.id, i.state]),
      [
        ['vendor-pulse', 'missing'],
        ['sim-power-meter', 'same'],
      ],
    );
    await data('gw-3', [{ dev: 'pulse-1', c: 'vendor-pulse', raw: PULSE_FRAME }]);
    const frames = await store.frames({ deviceId: 'pulse-1', errorsOnly: true });
    assert.equal(frames.length, 1);
    assert.match(frames[0]!.error!.reason, /awaiting the gateway's copy of contract 'vendor-pulse'/);
    assert.equal(
      (await store.getDevice('pulse-1'))?.contractId,
      null,
      'not taken for a Modbus RTU exception',
    );
    await send({
      v: 1,
      k: 'catalog',
      gw: 'gw-3',
      seq: seq++,
      ts: clock.now(),
      items: [{ ...item, source: PULSE_CONTRACT }],
    });
    catalog = await api('GET', '/api/gateways/gw-3/catalog');
    assert.equal(catalog.body.items[0].state, 'installed');
    await data('gw-3', [{ dev: 'pulse-1', c: 'vendor-pulse', raw: PULSE_FRAME }]);
    assert.equal((await store.latest('pulse-1')).find((p) => p.name === 'pulses')?.value, 2);
    assert.equal((await store.getDevice('pulse-1'))?.contractId, 'vendor-pulse');
    const events = (await store.listEvents({ subjectId: 'gw-3' })).map((e) => e.kind);
    assert.ok(events.includes('catalog-mismatch') && events.includes('catalog-installed'), events.join());
  });

  it("a copy whose text does not match its hash, and one differing from the platform's, are on record", async () => {
    const wrong = { kind: 'model' as const, id: 'fake', version: '1', hash: 'sha256:00' };
    const other = builtinModelSource('acme-th10').replace('name: ACME TH-10 sensor', 'name: changed');
    const differs = { kind: 'model' as const, id: 'acme-th10', version: '1.0.0', hash: catalogHash(other) };
    await send({
      v: 1,
      k: 'birth',
      gw: 'gw-4',
      seq: seq++,
      ts: clock.now(),
      epoch: 'e4',
      devices: [],
      catalog: [wrong, differs],
    });
    assert.deepEqual(
      (downlink.down('catalog-request').at(-1) as Json).items.map((i: Json) => i.id),
      ['fake', 'acme-th10'],
    );
    await send({
      v: 1,
      k: 'catalog',
      gw: 'gw-4',
      seq: seq++,
      ts: clock.now(),
      items: [
        { ...wrong, source: 'id: fake\ncontracts: [modbus-tcp]\n' },
        { ...differs, source: other },
      ],
    });
    // a document nobody asked for is not taken, and a resend of one already settled changes nothing
    const pushed = 'id: pushed\ncontracts: [modbus-tcp]\n';
    const unasked = {
      kind: 'model' as const,
      id: 'pushed',
      version: '1',
      hash: catalogHash(pushed),
      source: pushed,
    };
    await send({
      v: 1,
      k: 'catalog',
      gw: 'gw-4',
      seq: seq++,
      ts: clock.now(),
      items: [unasked, { ...differs, source: other }],
    });
    assert.equal(platform.models.get('pushed'), undefined);
    assert.equal((await store.listEvents({ subjectId: 'gw-4', kind: 'catalog-conflict' })).length, 1);
    const states = (await api('GET', '/api/gateways/gw-4/catalog')).body.items.map((i: Json) => [
      i.id,
      i.state,
    ]);
    assert.deepEqual(states, [
      ['fake', 'rejected'],
      ['acme-th10', 'conflict'],
    ]);
    assert.equal(platform.models.get('fake'), undefined);
  });
});
