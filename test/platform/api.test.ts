import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { buildApi } from '../../src/platform/http/server.ts';
import { Platform } from '../../src/platform/platform.ts';
import { RecordingDownlink, tempStore, toyFrame, toySource, type Json } from './helpers.ts';
import { authedInject, bearer, testToken } from '../support/auth.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('HTTP API', () => {
  let app: FastifyInstance;
  let inject: ReturnType<typeof authedInject>;
  let token: string;
  let platform: Platform;
  let cleanup: () => Promise<void>;
  const clock = new FakeClock(T0);
  const downlink = new RecordingDownlink();
  const uplink = async (envelope: Envelope) => {
    platform.handleUplink(`mqiot/gw/${envelope.gw}/up`, encodeEnvelope(envelope));
    await platform.whenIdle();
  };
  const get = async (url: string) => {
    const res = await inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() as Json };
  };

  before(async () => {
    const temp = await tempStore();
    cleanup = temp.cleanup;
    const contracts = new ContractRegistry(temp.store, toySource);
    await contracts.load();
    platform = new Platform(
      { commandTimeoutMs: 1000 },
      { store: temp.store, contracts, secretHashing: mosquittoHashing, clock },
    );
    platform.attach(downlink);
    await platform.start({ timers: false });
    app = await buildApi(platform);
    token = await testToken(temp.store, 'admin');
    inject = authedInject(app, token);
    await uplink({
      v: 1,
      k: 'birth',
      gw: 'site-a',
      seq: 1,
      ts: T0,
      epoch: 'e',
      devices: [
        { dev: 't-1', c: 'toy-temp', pollMs: 1000 },
        { dev: 'h-1', c: 'toy-hum', pollMs: 1000 },
      ],
    });
    // 120 readings of t-1 one second apart: 0.0 … 11.9 °C; one of h-1.
    for (let i = 0; i < 120; i++) {
      clock.set(T0 + i * 1000);
      await uplink({
        v: 1,
        k: 'data',
        gw: 'site-a',
        seq: 2 + i,
        ts: clock.now(),
        frames: [
          { dev: 't-1', c: 'toy-temp', ts: clock.now(), seq: i, raw: toyFrame(0xa1, i) },
          ...(i === 0
            ? [{ dev: 'h-1', c: 'toy-hum', ts: clock.now(), seq: 0, raw: toyFrame(0xb2, 50) }]
            : []),
        ],
      });
    }
  });
  after(async () => {
    await app.close();
    await platform.stop();
    await cleanup();
  });

  it('lists gateways and devices, filters and pages', async () => {
    const gateways = await get('/api/gateways');
    assert.deepEqual(
      gateways.body.items.map((g: { id: string; online: boolean }) => [g.id, g.online]),
      [['site-a', true]],
    );
    const page = await get('/api/devices?gateway=site-a&limit=1&offset=1');
    assert.equal(page.body.total, 2);
    assert.deepEqual(
      page.body.items.map((d: { id: string }) => d.id),
      ['t-1'],
    );
    assert.equal((await get('/api/devices?contract=toy-hum')).body.items[0].id, 'h-1');
    const detail = await get('/api/gateways/site-a');
    assert.equal(detail.body.devices.length, 2);
  });

  it('edits asset data and filters by tag and lifecycle', async () => {
    const res = await inject({
      method: 'PATCH',
      url: '/api/devices/t-1',
      payload: {
        name: 'Boiler room',
        location: 'B1',
        tags: ['heating'],
        attributes: { serial: 'X9' },
        installDate: '2025-03-01',
      },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().name, 'Boiler room');
    assert.equal((await get('/api/devices?tag=heating')).body.total, 1);
    assert.equal((await get('/api/devices?q=boiler')).body.total, 1);
    const bad = await inject({
      method: 'PATCH',
      url: '/api/devices/t-1',
      payload: { lifecycle: 'exploded' },
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'invalid_input');
    const missing = await inject({ method: 'PATCH', url: '/api/devices/zzz', payload: { name: 'x' } });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'not_found');
  });

  it('names the allowed values of a refused enum, pages frames like telemetry, documents try', async () => {
    const bad = await inject({
      method: 'PATCH',
      url: '/api/devices/t-1',
      payload: { lifecycle: 'exploded' },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error.message, /lifecycle.*"active", "disabled", "retired", "pending"/);
    const many = await get('/api/devices/t-1/frames?limit=5000');
    assert.equal(many.status, 200, JSON.stringify(many.body));
    assert.ok(many.body.items.length >= 120, 'more than the old 1000 cap allowed to ask for');
    const tooMany = await get('/api/devices/t-1/frames?limit=100001');
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.code, 'invalid_input');
    const docs = await get('/api/docs');
    const body =
      docs.body.paths['/api/contracts/{id}/try'].post.requestBody.content['application/json'].schema;
    assert.match(body.properties.frame.description, /hex/);
    assert.match(body.properties.context.description, /Modbus/);
  });

  it('decodes with a contract set through the API from the next frame on', async () => {
    const res = await inject({
      method: 'PATCH',
      url: '/api/devices/h-1',
      payload: { contractId: 'toy-temp' },
    });
    assert.equal(res.json().contractId, 'toy-temp');
    clock.set(T0 + 500_000);
    await uplink({
      v: 1,
      k: 'data',
      gw: 'site-a',
      seq: 400,
      ts: clock.now(),
      frames: [{ dev: 'h-1', c: 'vendor-unknown', ts: clock.now(), seq: 1, raw: toyFrame(0xa1, 99) }],
    });
    const latest = await get('/api/devices/h-1/latest');
    assert.ok(
      latest.body.items.some(
        (p: { name: string; value: number }) => p.name === 'temperature' && p.value === 9.9,
      ),
    );
  });

  it('answers latest values, raw ranges and aggregates', async () => {
    const latest = await get('/api/devices/t-1/latest');
    assert.deepEqual(latest.body.items[0], {
      deviceId: 't-1',
      name: 'temperature',
      ts: T0 + 119_000,
      value: 11.9,
      unit: '°C',
    });
    const range = await get(`/api/devices/t-1/telemetry?point=temperature&from=${T0}&to=${T0 + 5000}`);
    assert.deepEqual(
      range.body.items.map((p: { value: number }) => p.value),
      [0, 0.1, 0.2, 0.3, 0.4],
    );
    const iso = await get(
      `/api/devices/t-1/telemetry?from=${new Date(T0 + 60_000).toISOString()}&to=${T0 + 61_000}`,
    );
    assert.equal(iso.body.items[0].value, 6);
    const agg = await get(
      `/api/devices/t-1/aggregates?point=temperature&from=${T0}&to=${T0 + 120_000}&bucket=1m`,
    );
    assert.equal(agg.body.bucketMs, 60_000);
    assert.equal(agg.body.items.length, 2);
    assert.deepEqual(
      [agg.body.items[1].count, agg.body.items[1].min, agg.body.items[1].max, agg.body.items[1].last],
      [60, 6, 11.9, 11.9],
    );
    const badBucket = await get(`/api/devices/t-1/aggregates?point=temperature&bucket=soon`);
    assert.equal(badBucket.status, 400);
    assert.match(badBucket.body.error.message, /bucket/);
  });

  it('exports CSV', async () => {
    const res = await inject({
      method: 'GET',
      url: `/api/devices/t-1/telemetry.csv?from=${T0}&to=${T0 + 2000}`,
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/csv/);
    assert.equal(
      res.body,
      `device,point,time,value,unit\nt-1,temperature,${new Date(T0).toISOString()},0,°C\nt-1,temperature,${new Date(T0 + 1000).toISOString()},0.1,°C\n`,
    );
  });

  it('sends a command, shows its status and history, and records the answer', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/devices/t-1/commands',
      payload: { action: 'set', params: { value: 7 } },
    });
    assert.equal(res.statusCode, 202);
    const id = res.json().id as string;
    assert.equal(res.json().state, 'sent');
    await uplink({
      v: 1,
      k: 'cmd-result',
      gw: 'site-a',
      seq: 500,
      ts: clock.now(),
      id,
      dev: 't-1',
      ok: true,
      result: { raw: 'a107a8' },
    });
    const status = await get(`/api/commands/${id}`);
    assert.equal(status.body.state, 'executed');
    assert.deepEqual(
      status.body.history.map((h: { state: string }) => h.state),
      ['pending', 'sent', 'executed'],
    );
    assert.equal((await get('/api/commands?device=t-1&state=executed')).body.items.length, 1);
    const unknownAction = await inject({
      method: 'POST',
      url: '/api/devices/t-1/commands',
      payload: { action: 'launch' },
    });
    assert.equal(unknownAction.statusCode, 400);
    const noBody = await inject({ method: 'POST', url: '/api/devices/t-1/commands', payload: {} });
    assert.equal(noBody.json().error.code, 'invalid_input');
  });

  it('sends a status query to a gateway', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/gateways/site-a/queries',
      payload: { devices: ['t-1'] },
    });
    assert.equal(res.statusCode, 202);
    const query = downlink.down('query').at(-1) as { id: string; devs: string[] };
    assert.deepEqual(query.devs, ['t-1']);
    assert.equal(query.id, res.json().id);
    const missing = await inject({ method: 'POST', url: '/api/gateways/nope/queries', payload: {} });
    assert.equal(missing.statusCode, 404);
  });

  it('lists contracts, uploads a new one (tests run), refuses bad ones, keeps versions, tries a frame', async () => {
    const list = await get('/api/contracts');
    assert.deepEqual(
      list.body.items.map((c: { id: string }) => c.id),
      ['toy-hum', 'toy-temp'],
    );
    const upload = await inject({
      method: 'POST',
      url: '/api/contracts',
      headers: { 'content-type': 'text/yaml' },
      payload: JSON.stringify({ id: 'vendor-x', version: '1.0.0', marker: 0xc3 }),
    });
    assert.equal(upload.statusCode, 201, upload.body);
    assert.equal(upload.json().tests.passed, 1);
    await inject({
      method: 'POST',
      url: '/api/contracts',
      payload: { source: JSON.stringify({ id: 'vendor-x', version: '1.1.0', marker: 0xc3 }) },
    });
    const versions = await get('/api/contracts/vendor-x/versions');
    assert.deepEqual(
      versions.body.items.map((v: { version: string }) => v.version),
      ['1.0.0', '1.1.0'],
    );
    const failing = await inject({
      method: 'POST',
      url: '/api/contracts',
      payload: { source: JSON.stringify({ id: 'vendor-y', version: '1', marker: 1, failTests: true }) },
    });
    assert.equal(failing.statusCode, 422);
    assert.equal(failing.json().error.code, 'contract_tests_failed');
    assert.equal(failing.json().error.details.failed, 1);
    const invalid = await inject({
      method: 'POST',
      url: '/api/contracts',
      payload: { source: '{"id":"z"}' },
    });
    assert.equal(invalid.json().error.code, 'contract_invalid');
    const tried = await inject({
      method: 'POST',
      url: '/api/contracts/vendor-x/try',
      payload: { frame: 'c3 05 c8' },
    });
    assert.deepEqual(tried.json(), {
      ok: true,
      fields: { value: 5 },
      points: [{ name: 'value', value: 0.5, unit: 'u' }],
    });
    const badHex = await inject({
      method: 'POST',
      url: '/api/contracts/vendor-x/try',
      payload: { frame: 'zz' },
    });
    assert.equal(badHex.statusCode, 400);
  });

  it('lists events with online changes and registrations', async () => {
    const events = await get('/api/events?subjectType=gateway&subject=site-a');
    const kinds = events.body.items.map((e: { kind: string }) => e.kind);
    assert.ok(kinds.includes('online'));
    assert.ok(kinds.includes('registered'));
    const devices = await get('/api/events?kind=registered&subjectType=device');
    assert.equal(devices.body.items.length, 2);
  });

  it('serves the OpenAPI document with every route described', async () => {
    const docs = await get('/api/docs');
    assert.equal(docs.status, 200);
    assert.equal(docs.body.openapi, '3.0.3');
    for (const path of [
      '/api/devices',
      '/api/devices/{id}/aggregates',
      '/api/contracts/{id}/try',
      '/api/events',
    ]) {
      assert.ok(docs.body.paths[path], `${path} documented`);
    }
    assert.ok(
      docs.body.paths['/api/devices'].get.parameters.some((p: { name: string }) => p.name === 'lifecycle'),
    );
  });

  it('changes the retention at run time and applies it at the next tick', async () => {
    assert.deepEqual((await get('/api/settings')).body, { retentionDays: 0 });
    const bad = await inject({ method: 'PATCH', url: '/api/settings', payload: { retentionDays: -1 } });
    assert.equal(bad.statusCode, 400);
    const before = await platform.store.countPoints('t-1');
    clock.set(T0 + 86_400_000 + 60_000); // a day after the first readings
    const res = await inject({ method: 'PATCH', url: '/api/settings', payload: { retentionDays: 1 } });
    assert.deepEqual(res.json(), { retentionDays: 1 });
    await platform.tick();
    const after = await platform.store.countPoints('t-1');
    assert.ok(after < before && after > 0, `readings older than a day deleted (${before} → ${after})`);
    await inject({ method: 'PATCH', url: '/api/settings', payload: { retentionDays: 0 } });
  });

  it('answers unknown routes with a JSON error', async () => {
    const res = await get('/api/nothing');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });

  it('works over a real socket, and streams live telemetry as server-sent events', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const controller = new AbortController();
    const stream = await fetch(`${address}/api/stream?device=t-1&types=telemetry`, {
      signal: controller.signal,
      headers: bearer(token),
    });
    assert.match(String(stream.headers.get('content-type')), /^text\/event-stream/);
    const reader = stream.body!.getReader();
    clock.set(T0 + 900_000);
    await uplink({
      v: 1,
      k: 'data',
      gw: 'site-a',
      seq: 900,
      ts: clock.now(),
      frames: [
        { dev: 'h-1', c: 'toy-hum', ts: clock.now(), seq: 9, raw: toyFrame(0xb2, 1) },
        { dev: 't-1', c: 'toy-temp', ts: clock.now(), seq: 900, raw: toyFrame(0xa1, 119) },
      ],
    });
    let text = '';
    while (!/event: telemetry\ndata: .*\n\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    controller.abort();
    const data = JSON.parse(/event: telemetry\ndata: (.*)\n/.exec(text)![1]!) as {
      dev: string;
      points: { value: number }[];
    };
    assert.equal(data.dev, 't-1', 'only the requested device');
    assert.equal(data.points[0]?.value, 11.9);
    const res = await fetch(`${address}/api/devices/t-1`, { headers: bearer(token) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { device: { contractId: string }; latest: { value: number }[] };
    assert.equal(body.device.contractId, 'toy-temp');
    assert.equal(body.latest[0]?.value, 11.9);
  });
  it('deletes devices and gateways, keeping or dropping their data, as an operator, audited', async () => {
    const store = platform.store;
    await uplink({ v: 1, k: 'birth', gw: 'site-del', seq: 1, ts: clock.now(), epoch: 'd', devices: [] });
    await uplink({
      v: 1,
      k: 'data',
      gw: 'site-del',
      seq: 2,
      ts: clock.now(),
      frames: ['keep-1', 'drop-1', 'gone-1'].map((dev, i) => ({
        dev,
        c: 'toy-temp',
        ts: clock.now(),
        seq: 0,
        raw: toyFrame(0xa1, i),
      })),
    });
    assert.equal(await store.countPoints('keep-1'), 1);
    const noChoice = await inject({ method: 'DELETE', url: '/api/devices/keep-1' });
    assert.equal(noChoice.statusCode, 400);
    assert.match(noChoice.json().error.message, /required property 'data'/);
    const wrong = await inject({ method: 'DELETE', url: '/api/devices/keep-1?data=maybe' });
    assert.match(wrong.json().error.message, /data.*"keep", "drop"/);
    const viewer = await testToken(store, 'viewer');
    const refused = await app.inject({
      method: 'DELETE',
      url: '/api/devices/keep-1?data=keep',
      headers: bearer(viewer),
    });
    assert.equal(refused.statusCode, 403);

    const kept = await inject({ method: 'DELETE', url: '/api/devices/keep-1?data=keep' });
    assert.equal(kept.statusCode, 200, kept.body);
    assert.deepEqual(kept.json(), { devices: ['keep-1'], dataRows: 0 });
    assert.equal((await get('/api/devices/keep-1')).status, 404);
    assert.equal(await store.countPoints('keep-1'), 1, 'data kept');

    const dropped = await inject({ method: 'DELETE', url: '/api/devices/drop-1?data=drop' });
    assert.equal(dropped.statusCode, 200);
    assert.ok(dropped.json().dataRows > 0);
    assert.equal(await store.countPoints('drop-1'), 0, 'data dropped');
    // raw frames are kept per data group of the gateway: they go with the gateway (below) or retention
    assert.equal((await store.frames({ deviceId: 'drop-1' })).length, 1);
    assert.equal((await inject({ method: 'DELETE', url: '/api/devices/drop-1?data=drop' })).statusCode, 404);

    const gateway = await inject({ method: 'DELETE', url: '/api/gateways/site-del?data=drop' });
    assert.equal(gateway.statusCode, 200);
    assert.deepEqual(gateway.json().devices, ['gone-1']);
    assert.equal((await get('/api/gateways/site-del')).status, 404);
    assert.equal((await get('/api/devices/gone-1')).status, 404);
    assert.equal(await store.countPoints('gone-1'), 0);
    assert.equal((await store.frames({ deviceId: 'gone-1' })).length, 0, 'the gateway took its frames');
    assert.equal((await store.frames({ deviceId: 'drop-1' })).length, 0);
    assert.equal((await store.countPoints('t-1')) > 0, true, 'other gateways untouched');

    // a device that sends again is registered anew
    await uplink({
      v: 1,
      k: 'data',
      gw: 'site-b',
      seq: 1,
      ts: clock.now(),
      frames: [{ dev: 'keep-1', c: 'toy-temp', ts: clock.now(), seq: 1, raw: toyFrame(0xa1, 5) }],
    });
    assert.equal((await get('/api/devices/keep-1')).status, 200);

    const audit = await store.listAudit({ limit: 100 });
    const deletes = audit.items.filter((a) => a.method === 'DELETE' && a.path.startsWith('/api/'));
    assert.ok(
      deletes.some((a) => a.path === '/api/gateways/site-del?data=drop'),
      'audited',
    );
  });
});
