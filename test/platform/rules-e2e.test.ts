// Linkage rules end to end: the real platform attached in process to the real broker, an MQTT.js
// client playing the gateway (data groups up, commands answered from its down topic), the HTTP API
// for the rules, and an MQTT.js client watching what rules publish.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startPlatformApp, type PlatformApp } from '../../src/app/platform-app.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  type CmdEnvelope,
  type Envelope,
} from '../../src/protocol/envelope.ts';
import { toyFrame, toySource, type Json } from './helpers.ts';
import { TcpBroker } from '../support/broker.ts';
import { connectClient, connectGateway } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

const GW = 'rules-site';
const TEMP = 0xa1; // toy-temp: 'temperature' = byte / 10

const HEATER_RULE = {
  id: 'heater-on',
  name: 'Heater on when sensor-21 is cold',
  when: { device: 'sensor-21', point: 'temperature', op: '<', value: 5, reset: { op: '>', value: 8 } },
  then: [
    { type: 'command', device: 'heater-1', action: 'set', params: { value: 1 } },
    {
      type: 'publish',
      topic: 'site/alerts/{{device}}',
      payload: { rule: '{{rule}}', t: '{{value}}' },
      qos: 1,
    },
  ],
};

describe('linkage rules end to end (broker, platform, MQTT gateway, HTTP API)', () => {
  let tcp: TcpBroker;
  let app: PlatformApp;
  let dir: string;
  let token = '';
  let gateway: MqttClient;
  let watcher: MqttClient;
  let seq = 1;
  let frameSeq = 0;
  const cmds: CmdEnvelope[] = [];
  const alerts: { topic: string; body: Json }[] = [];

  const up = (envelope: Envelope) =>
    gateway.publishAsync(`mqiot/gw/${GW}/up`, encodeEnvelope(envelope), { qos: 1 });
  const temperature = (byte: number) => {
    const ts = Date.now();
    return up({
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: [{ dev: 'sensor-21', c: 'toy-temp', ts, seq: frameSeq++, raw: toyFrame(TEMP, byte) }],
    });
  };
  const api = async (path: string, method = 'GET', body?: unknown) => {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (res.status === 204 ? null : await res.json()) as Json };
  };
  const seen: number[] = [];
  /** The reading went through the platform and the rules (and any firing was carried out and recorded). */
  const stored = async (value: number) => {
    await waitFor(`reading ${value}`, () => seen.includes(value));
    seen.length = 0;
    await app.platform.rules.whenIdle();
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-rules-'));
    tcp = await TcpBroker.start();
    app = await startPlatformApp({
      dataDir: dir,
      broker: tcp.broker,
      http: { host: '127.0.0.1', port: 0 },
      contractSource: toySource,
      config: { commandTimeoutMs: 2000, tickMs: 50, gatewayValidIntervalMs: 60_000 },
    });
    token = await testToken(app.store, 'admin');
    // The rules engine listens the same way: a notification seen here has been seen by the rules.
    app.platform.subscribe((n) => {
      if (n.type !== 'telemetry' || n.message.dev !== 'sensor-21') return;
      for (const p of n.message.points) if (typeof p.value === 'number') seen.push(p.value);
    });
    watcher = await connectClient(tcp.url, { clientId: 'alerts-watcher' });
    await watcher.subscribeAsync('site/alerts/#', { qos: 1 });
    watcher.on('message', (topic, payload) => alerts.push({ topic, body: JSON.parse(payload.toString()) }));
    gateway = await connectGateway(tcp.url, GW);
    // The fake gateway executes every command once and acknowledges it (as the real gateway does).
    gateway.on('message', (_topic, payload) => {
      const env = decodeEnvelope(payload);
      if (env.k !== 'cmd') return;
      cmds.push(env);
      void up({
        v: 1,
        k: 'cmd-result',
        gw: GW,
        seq: ++seq,
        ts: Date.now(),
        id: env.id,
        dev: env.dev,
        ok: true,
        result: { done: 1 },
      });
    });
    await up({
      v: 1,
      k: 'birth',
      gw: GW,
      seq: 1,
      ts: Date.now(),
      epoch: 'ep1',
      devices: [
        { dev: 'sensor-21', c: 'toy-temp', pollMs: 60_000 },
        { dev: 'heater-1', c: 'toy-temp', pollMs: 60_000 },
      ],
    });
    await waitFor('devices registered', async () => (await app.store.getDevice('heater-1')) !== undefined);
  });

  after(async () => {
    watcher?.end(true);
    gateway?.end(true);
    await app?.close();
    await tcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('API: refuses invalid rules with a 400 whose message names the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ...HEATER_RULE, when: { ...HEATER_RULE.when, op: '=>' } }, /when\/op|when\.op/],
      [{ ...HEATER_RULE, when: { ...HEATER_RULE.when, value: '5' } }, /^when\.value: must be a number/],
      [{ ...HEATER_RULE, when: { ...HEATER_RULE.when, reset: { op: '>' } } }, /^when\.reset\.value/],
      [{ ...HEATER_RULE, then: [{ type: 'publish', topic: 'mqiot/gw/x/down' }] }, /^then\[0\]\.topic/],
      [{ ...HEATER_RULE, then: [] }, /then/],
      [{ when: HEATER_RULE.when, then: HEATER_RULE.then }, /id/],
    ];
    for (const [body, message] of cases) {
      const res = await api('/api/rules', 'POST', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'invalid_input');
      assert.match(res.body.error.message, message);
    }
    assert.equal((await api('/api/rules')).body.items.length, 0);
  });

  it('API: create, conflict, read, replace (id must match), 404s, and the OpenAPI document', async () => {
    const created = await api('/api/rules', 'POST', HEATER_RULE);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.enabled, true);
    assert.equal(typeof created.body.createdAt, 'number');
    assert.equal((await api('/api/rules', 'POST', HEATER_RULE)).status, 409);
    const got = await api('/api/rules/heater-on');
    assert.deepEqual(got.body.then, HEATER_RULE.then);
    assert.deepEqual(got.body.when, HEATER_RULE.when);
    const mismatch = await api('/api/rules/heater-on', 'PUT', { ...HEATER_RULE, id: 'other' });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.error.message, /^id:/);
    const replaced = await api('/api/rules/heater-on', 'PUT', { ...HEATER_RULE, name: 'renamed' });
    assert.equal(replaced.body.name, 'renamed');
    assert.equal(replaced.body.createdAt, created.body.createdAt);
    assert.equal((await api('/api/rules/nope')).status, 404);
    assert.equal((await api('/api/rules/nope/history')).body.error.code, 'not_found');
    const docs = await api('/api/docs');
    assert.ok(docs.body.paths['/api/rules'].post);
    assert.ok(docs.body.paths['/api/rules/{id}/history'].get);
  });

  it('a cold reading fires the rule: the gateway receives the command and acknowledges it, the command ends executed', async () => {
    await temperature(100);
    await stored(10);
    assert.equal(cmds.length, 0, 'warm: nothing to do');
    await temperature(40);
    const cmd = await waitFor('command on the down topic', () => cmds[0]);
    assert.deepEqual([cmd.dev, cmd.action, cmd.params], ['heater-1', 'set', { value: 1 }]);
    const done = await waitFor('executed', async () => {
      const r = await api(`/api/commands/${cmd.id}`);
      return r.body.state === 'executed' ? r.body : undefined;
    });
    assert.deepEqual(done.result, { done: 1 });
    const alert = await waitFor('published alert', () => alerts[0]);
    assert.deepEqual(alert, { topic: 'site/alerts/sensor-21', body: { rule: 'heater-on', t: 4 } });
    const history = await waitFor('history', async () => {
      const h = await api('/api/rules/heater-on/history');
      return h.body.items.length === 1 ? h.body.items : undefined;
    });
    assert.equal(history[0].detail.value, 4);
    assert.equal(history[0].detail.commandId, cmd.id);
    assert.deepEqual((await api('/api/rules/heater-on')).body.status, { 'sensor-21': 'fired' });
    // the events API lists rule events by subject too
    const byRule = await api('/api/events?subjectType=rule');
    assert.equal(byRule.status, 200);
    assert.ok(byRule.body.items.some((e: { kind: string }) => e.kind === 'rule-fired'));
  });

  it('does not fire again while cold, nor between the thresholds; fires again after a reset above 8', async () => {
    await temperature(30);
    await stored(3);
    await temperature(60); // between 5 and 8: not a reset
    await stored(6);
    await temperature(20);
    await stored(2);
    assert.equal(cmds.length, 1);
    assert.equal((await api('/api/rules/heater-on/history')).body.items.length, 1);
    await temperature(90);
    await stored(9);
    assert.deepEqual((await api('/api/rules/heater-on')).body.status, { 'sensor-21': 'idle' });
    await temperature(45);
    await waitFor('second command', () => cmds.length === 2);
    const history = await waitFor('second firing', async () => {
      const h = await api('/api/rules/heater-on/history');
      return h.body.items.length === 2 ? h.body.items : undefined;
    });
    assert.equal(history[0].detail.value, 4.5, 'newest first');
    assert.equal(history[0].detail.commandId, cmds[1]!.id);
    await waitFor(
      'executed',
      async () => (await api(`/api/commands/${cmds[1]!.id}`)).body.state === 'executed',
    );
  });

  it('a disabled rule does not fire; a deleted rule is gone', async () => {
    const off = await api('/api/rules/heater-on', 'PATCH', { enabled: false });
    assert.equal(off.body.enabled, false);
    await temperature(95);
    await stored(9.5);
    await temperature(10);
    await stored(1);
    assert.equal(cmds.length, 2);
    assert.equal((await api('/api/rules/heater-on', 'DELETE')).status, 204);
    assert.equal((await api('/api/rules/heater-on')).status, 404);
    assert.equal((await api('/api/rules/heater-on', 'DELETE')).status, 404);
  });
});
