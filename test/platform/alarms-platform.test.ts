// Alarms inside the real Platform (in process, fake clock, real SQLite, recording downlink) and its
// HTTP API: a threshold alarm raised once however many readings hold, its MQTT event and `alarm`
// event, still active (not duplicated) after a restart and cleared by the condition then; offline for N
// seconds (gateway and device); decode errors; built-in rules seeded once; acknowledge and clear with
// roles (viewer reads, operator acts); alarm rules through the API, errors naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';
import { ALARM_EVENT, type AlarmMessage } from '../../src/platform/alarms/alarm-service.ts';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { buildApi } from '../../src/platform/http/server.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { authedInject, testToken } from '../support/auth.ts';
import { RecordingDownlink, tempStore, toyFrame, toySource, type Json } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);
const S = 1000;
const GW = 'gw-a';
const UP = `mqiot/gw/${GW}/up`;
const TEMP = 0xa1; // toy-temp: point 'temperature' = byte / 10 (so at most 25.5)

describe('alarms in the platform (fake clock, real SQLite)', () => {
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let app: FastifyInstance;
  let seq = 0;
  let frameSeq = 0;
  const clock = new FakeClock(T0);
  let downlink = new RecordingDownlink();

  const idle = async () => {
    await platform.whenIdle();
    await platform.alarms.whenIdle();
  };
  const send = async (envelope: Envelope) => {
    platform.handleUplink(UP, encodeEnvelope(envelope));
    await idle();
  };
  const frames = async (dev: string, raws: Uint8Array[]) => {
    const ts = clock.advance(S);
    await send({
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: raws.map((raw) => ({ dev, c: 'toy-temp', ts, seq: ++frameSeq, raw })),
    });
  };
  const temperature = (dev: string, tenths: number) => frames(dev, [toyFrame(TEMP, tenths)]);
  const tick = async (ms: number) => {
    clock.advance(ms);
    await platform.tick();
    await idle();
  };
  const alarmMessages = () =>
    downlink.messages
      .filter((m) => m.topic.startsWith('mqiot/alarms/'))
      .map((m) => ({ topic: m.topic, body: JSON.parse(m.payload.toString()) as AlarmMessage }));

  async function startPlatform(config: { builtinAlarms?: boolean } = {}) {
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    platform = new Platform(
      { gatewayValidIntervalMs: 60_000, heartbeatIntervalMs: 3_600_000, tickMs: 100, ...config },
      { store, contracts, secretHashing: mosquittoHashing, clock },
    );
    downlink = new RecordingDownlink();
    platform.attach(downlink);
    await platform.start({ timers: false });
    app = await buildApi(platform);
  }
  async function stopPlatform() {
    await app.close();
    await platform.stop();
  }

  before(async () => {
    ({ store, cleanup } = await tempStore());
    await startPlatform({ builtinAlarms: true });
    await send({
      v: 1,
      k: 'birth',
      gw: GW,
      seq: ++seq,
      ts: clock.now(),
      epoch: 'e1',
      devices: [
        { dev: 'meter-1', c: 'toy-temp', pollMs: 10_000 },
        { dev: 'meter-2', c: 'toy-temp', pollMs: 10_000 },
      ],
    });
  });
  after(async () => {
    await stopPlatform();
    await cleanup();
  });

  it('creates the built-in rules once; a deleted one stays deleted after a restart', async () => {
    const ids = (await platform.alarms.listRules()).map((r) => r.id);
    assert.deepEqual(ids, ['decode-errors', 'device-offline', 'gateway-offline']);
    await platform.alarms.removeRule('device-offline');
    await stopPlatform();
    await startPlatform({ builtinAlarms: true });
    assert.deepEqual(
      (await platform.alarms.listRules()).map((r) => r.id),
      ['decode-errors', 'gateway-offline'],
    );
  });

  it('threshold: raised once while the condition holds, with an MQTT message and an event', async () => {
    const operator = authedInject(app, await testToken(store, 'operator'));
    const created = await operator({
      method: 'POST',
      url: '/api/alarm-rules',
      payload: {
        id: 'hot',
        name: 'Too hot',
        type: 'overheat',
        severity: 'critical',
        condition: 'threshold',
        point: 'temperature',
        op: '>',
        value: 20,
        clear: { op: '<', value: 15 },
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    for (const t of [100, 210, 220, 250, 180]) await temperature('meter-1', t);
    const active = await platform.alarms.list({ active: true, type: 'overheat' });
    assert.equal(active.total, 1, 'one alarm, however many readings hold');
    const alarm = active.items[0]!;
    assert.deepEqual(
      [alarm.originatorId, alarm.severity, alarm.value, alarm.ruleId, alarm.message, alarm.raisedAt],
      ['meter-1', 'critical', 21, 'hot', 'Too hot', T0 + 2 * S],
    );
    const messages = alarmMessages();
    assert.deepEqual(
      messages.map((m) => [m.topic, m.body.action, m.body.alarm.id]),
      [['mqiot/alarms/device/meter-1', 'raised', alarm.id]],
    );
    const events = await store.listEvents({ subjectType: 'device', subjectId: 'meter-1', kind: ALARM_EVENT });
    assert.deepEqual(
      events.map((e) => [e.detail.action, e.detail.alarmId, e.detail.severity]),
      [['raised', alarm.id, 'critical']],
    );
  });

  it('survives a restart: still active, not raised twice, cleared when the condition ends', async () => {
    const before = (await platform.alarms.list({ active: true, type: 'overheat' })).items[0]!;
    await stopPlatform();
    await startPlatform();
    await temperature('meter-1', 240); // still too hot: the restored alarm, not a new one
    assert.equal((await platform.alarms.list({ type: 'overheat' })).total, 1);
    assert.equal(alarmMessages().length, 0);
    await temperature('meter-1', 140); // below the clear threshold
    const after = await platform.alarms.get(before.id);
    assert.deepEqual([after.active, after.clearedBy], [false, 'condition']);
    assert.deepEqual(
      alarmMessages().map((m) => [m.body.action, m.body.alarm.id]),
      [['cleared', before.id]],
    );
    // a new crossing is a new alarm
    await temperature('meter-1', 210);
    assert.equal((await platform.alarms.list({ active: true, type: 'overheat' })).total, 1);
    assert.equal((await platform.alarms.list({ type: 'overheat' })).total, 2);
  });

  it('roles: a viewer lists and reads, an operator acknowledges and clears; each once', async () => {
    const viewer = authedInject(app, await testToken(store, 'viewer'));
    const operator = authedInject(app, await testToken(store, 'operator', { username: 'olga' }));
    const list = await viewer({ method: 'GET', url: '/api/alarms?originator=meter-1' });
    assert.equal(list.statusCode, 200);
    const [alarm] = (list.json() as Json).items;
    assert.equal(alarm.active, true);
    const summary = await viewer({ method: 'GET', url: '/api/alarms/summary' });
    assert.equal(summary.json().active.critical, 1);
    assert.equal((await viewer({ method: 'POST', url: `/api/alarms/${alarm.id}/ack` })).statusCode, 403);
    assert.equal((await viewer({ method: 'POST', url: `/api/alarms/${alarm.id}/clear` })).statusCode, 403);
    const acked = await operator({ method: 'POST', url: `/api/alarms/${alarm.id}/ack` });
    assert.equal(acked.statusCode, 200, acked.body);
    assert.deepEqual([acked.json().acknowledged, acked.json().ackBy], [true, 'olga']);
    const again = await operator({ method: 'POST', url: `/api/alarms/${alarm.id}/ack` });
    assert.equal(again.json().history.length, 2, 'acknowledging twice changes nothing');
    const cleared = await operator({ method: 'POST', url: `/api/alarms/${alarm.id}/clear` });
    assert.deepEqual([cleared.json().active, cleared.json().clearedBy], [false, 'olga']);
    // still too hot, but cleared by a user: no new alarm until the condition ends and comes back
    await temperature('meter-1', 230);
    assert.equal((await platform.alarms.list({ active: true, type: 'overheat' })).total, 0);
    assert.deepEqual(
      alarmMessages()
        .slice(-2)
        .map((m) => [m.body.action, m.body.alarm.acknowledged]),
      [
        ['acknowledged', true],
        ['cleared', true],
      ],
    );
    const one = await viewer({ method: 'GET', url: `/api/alarms/${alarm.id}` });
    assert.deepEqual(
      one.json().history.map((h: Json) => `${h.action}:${h.by}`),
      ['raised:condition', 'acknowledged:olga', 'cleared:olga'],
    );
    assert.equal((await viewer({ method: 'GET', url: '/api/alarms/999999' })).statusCode, 404);
    const bad = await viewer({ method: 'GET', url: '/api/alarms/abc' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'invalid_input');
    const status = await viewer({ method: 'GET', url: '/api/alarms?status=all&originator=meter-1' });
    assert.equal(status.json().total, 2);
  });

  it('alarm rules through the API: errors name the field, viewers cannot write', async () => {
    const viewer = authedInject(app, await testToken(store, 'viewer'));
    const operator = authedInject(app, await testToken(store, 'operator'));
    const bad = await operator({
      method: 'POST',
      url: '/api/alarm-rules',
      payload: { id: 'x', condition: 'threshold', point: 't', op: '>', value: '5' },
    });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json().error, {
      code: 'invalid_input',
      message: "value: must be a number for '>'",
      details: { field: 'value' },
    });
    const dup = await operator({
      method: 'POST',
      url: '/api/alarm-rules',
      payload: { id: 'hot', condition: 'offline' },
    });
    assert.equal(dup.statusCode, 409);
    assert.equal(
      (await viewer({ method: 'POST', url: '/api/alarm-rules', payload: { id: 'y', condition: 'offline' } }))
        .statusCode,
      403,
    );
    const listed = await viewer({ method: 'GET', url: '/api/alarm-rules' });
    const hot = (listed.json() as Json).items.find((r: Json) => r.id === 'hot');
    assert.equal(hot.status['meter-1'], 'raised');
    const put = await operator({
      method: 'PUT',
      url: '/api/alarm-rules/hot',
      payload: {
        id: 'hot',
        condition: 'threshold',
        point: 'temperature',
        op: '>',
        value: 60,
        enabled: false,
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.json().enabled, false);
    const enabled = await operator({
      method: 'PATCH',
      url: '/api/alarm-rules/hot',
      payload: { enabled: true },
    });
    assert.deepEqual([enabled.statusCode, enabled.json().enabled, enabled.json().value], [200, true, 60]);
    const noBody = await operator({ method: 'PATCH', url: '/api/alarm-rules/hot', payload: { on: true } });
    assert.equal(noBody.statusCode, 400);
    assert.equal((await operator({ method: 'DELETE', url: '/api/alarm-rules/hot' })).statusCode, 204);
    assert.equal((await operator({ method: 'DELETE', url: '/api/alarm-rules/hot' })).statusCode, 404);
  });

  it('an edited rule still clears the alarm it raised before the edit', async () => {
    const doc = {
      id: 'cold',
      condition: 'threshold',
      device: 'meter-2',
      point: 'temperature',
      op: '<',
      value: 5,
    };
    await platform.alarms.createRule(doc);
    await temperature('meter-2', 30);
    const [alarm] = (await platform.alarms.list({ active: true, type: 'cold' })).items;
    assert.ok(alarm);
    await platform.alarms.replaceRule('cold', { ...doc, value: 4, severity: 'minor' });
    await temperature('meter-2', 20); // still cold under the new rule: the same alarm, not a second one
    assert.equal((await platform.alarms.list({ type: 'cold' })).total, 1);
    await temperature('meter-2', 100);
    assert.deepEqual(
      [(await platform.alarms.get(alarm.id)).active, (await platform.alarms.get(alarm.id)).clearedBy],
      [false, 'condition'],
    );
  });

  it('every alarm route is in the OpenAPI document with its role', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/api/docs' })).json() as Json;
    const roles = (path: string) =>
      Object.fromEntries(Object.entries(doc.paths[path]).map(([m, op]) => [m, (op as Json)['x-role']]));
    assert.deepEqual(roles('/api/alarms'), { get: 'viewer' });
    assert.deepEqual(roles('/api/alarms/summary'), { get: 'viewer' });
    assert.deepEqual(roles('/api/alarms/{id}'), { get: 'viewer' });
    assert.deepEqual(roles('/api/alarms/{id}/ack'), { post: 'operator' });
    assert.deepEqual(roles('/api/alarms/{id}/clear'), { post: 'operator' });
    assert.deepEqual(roles('/api/alarm-rules'), { get: 'viewer', post: 'operator' });
    assert.deepEqual(roles('/api/alarm-rules/{id}'), {
      get: 'viewer',
      put: 'operator',
      patch: 'operator',
      delete: 'operator',
    });
  });

  it('decode errors: the built-in rule raises after 5 failed frames and clears after a quiet window', async () => {
    const broken = Uint8Array.from([TEMP, 1, 0]); // wrong checksum
    await frames('meter-2', [broken, broken, broken, broken]);
    assert.equal((await platform.alarms.list({ type: 'decode-errors' })).total, 0);
    await frames('meter-2', [broken, toyFrame(TEMP, 200)]);
    const [alarm] = (await platform.alarms.list({ active: true, type: 'decode-errors' })).items;
    assert.deepEqual([alarm?.originatorId, alarm?.severity, alarm?.value], ['meter-2', 'warning', 5]);
    await frames('meter-2', [broken]);
    assert.equal((await platform.alarms.list({ type: 'decode-errors' })).total, 1);
    await tick(601 * S);
    assert.equal((await platform.alarms.get(alarm!.id)).active, false);
  });

  it('offline: a gateway silent past its interval, alarmed after `for` seconds, cleared when it is back', async () => {
    await platform.alarms.replaceRule('gateway-offline', {
      id: 'gateway-offline',
      condition: 'offline',
      subject: 'gateway',
      for: 120,
      severity: 'major',
    });
    await temperature('meter-1', 100);
    await tick(61 * S); // silent past the 60 s interval: offline now
    const offline = await store.getGateway(GW);
    assert.equal(offline?.online, false);
    assert.equal((await platform.alarms.list({ originatorType: 'gateway' })).total, 0);
    await tick(100 * S);
    assert.equal((await platform.alarms.list({ originatorType: 'gateway' })).total, 0);
    await tick(21 * S);
    const [alarm] = (await platform.alarms.list({ active: true, originatorType: 'gateway' })).items;
    assert.deepEqual([alarm?.originatorId, alarm?.type, alarm?.value], [GW, 'gateway-offline', 'offline']);
    assert.ok(
      alarmMessages().some((m) => m.topic === `mqiot/alarms/gateway/${GW}` && m.body.action === 'raised'),
    );
    await tick(60 * S);
    assert.equal((await platform.alarms.list({ originatorType: 'gateway' })).total, 1, 'raised once');
    await temperature('meter-1', 100); // any uplink: the gateway is back
    assert.equal((await platform.alarms.get(alarm!.id)).active, false);
  });
});
