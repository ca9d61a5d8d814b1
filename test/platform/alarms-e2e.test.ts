// Alarms end to end on `mqiot up` as a user runs it (its own process, secure defaults: no anonymous
// clients, gateways confined to their topics, a password file and an ACL file for other users): a
// gateway with issued credentials sends Cayenne LPP readings that cross a threshold; the alarm is raised
// once, reaches an MQTT subscriber allowed to read mqiot/alarms/#, survives a restart of the process
// without being raised again, and is acknowledged and cleared through the HTTP API, each step again on
// MQTT. A gateway login may not read the alarms.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { hashPassword } from '../../src/broker/auth/password-file.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { issueGatewayCredentials, startUp, type RunningUp } from '../support/cli.ts';
import { connectClient, connectGateway, pingBarrier, subackCodes } from '../support/mqtt.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';
import type { Json } from './helpers.ts';

const GW = 'alarm-site';
const DEV = 'lpp-7';
const ADMIN_PASSWORD = 'alarms e2e admin password';
const OPS_PASSWORD = 'ops password for alarms';

/** Cayenne LPP channel 1 temperature in 0.1 °C: point `temperature_1`. */
function lppTemperature(celsius: number): Uint8Array {
  const v = Math.round(celsius * 10) & 0xffff;
  return Uint8Array.from([0x01, 0x67, v >> 8, v & 0xff]);
}

describe('alarms end to end (mqiot up process, gateway over MQTT, subscriber, HTTP API, restart)', () => {
  let dir: string;
  let cleanupDir: () => void = () => {};
  let up: RunningUp;
  let env: Record<string, string>;
  let gwLogin: { username: string; password: string };
  let gateway: MqttClient | undefined;
  let ops: MqttClient;
  let token = '';
  let seq = 0;
  let frameSeq = 0;
  const events: { topic: string; body: Json }[] = [];

  const api = async (path: string, method = 'GET') => {
    const res = await fetch(`${up.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const login = async () => {
    const res = await fetch(`${up.httpUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    assert.equal(res.status, 200);
    token = ((await res.json()) as Json).token;
  };
  const connectOps = async () => {
    ops = await connectClient(up.mqttUrl, {
      clientId: 'ops-console',
      username: 'ops',
      password: OPS_PASSWORD,
    });
    ops.on('message', (topic, payload) => events.push({ topic, body: JSON.parse(payload.toString()) }));
    await ops.subscribeAsync('mqiot/alarms/#', { qos: 1 });
  };
  const connectGw = async () => {
    gateway = await connectGateway(up.mqttUrl, GW, { ...gwLogin, protocolVersion: 5 });
    const birth: Envelope = {
      v: 1,
      k: 'birth',
      gw: GW,
      seq: ++seq,
      ts: Date.now(),
      epoch: 'e1',
      devices: [{ dev: DEV, c: 'cayenne-lpp', pollMs: 60_000 }],
    };
    await gateway.publishAsync(`mqiot/gw/${GW}/up`, encodeEnvelope(birth), { qos: 1 });
  };
  /** One reading, acknowledged by the broker only once the platform stored it. */
  const reading = async (celsius: number) => {
    const ts = Date.now();
    const data: Envelope = {
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: [{ dev: DEV, c: 'cayenne-lpp', ts, seq: ++frameSeq, raw: lppTemperature(celsius) }],
    };
    await gateway!.publishAsync(`mqiot/gw/${GW}/up`, encodeEnvelope(data), { qos: 1 });
  };
  const alarmsOf = async (status: string) =>
    (await api(`/api/alarms?status=${status}&originator=${DEV}`)).body;
  const start = async () => {
    up = await startUp(dir, [], env);
    await login();
    await connectOps();
  };
  const stop = async () => {
    await gateway?.endAsync();
    gateway = undefined;
    await ops.endAsync();
    assert.equal(await up.stop(), 0);
  };

  before(async () => {
    ({ dir, cleanup: cleanupDir } = makeTempDir('mqiot-alarms-e2e-'));
    const passwd = join(dir, 'passwd');
    const acl = join(dir, 'acl');
    writeFileSync(passwd, `ops:${await hashPassword(OPS_PASSWORD)}\n`);
    writeFileSync(acl, 'user ops\ntopic read mqiot/alarms/#\n');
    env = {
      MQIOT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      MQIOT_BROKER_AUTH_PASSWORD_FILE: passwd,
      MQIOT_BROKER_AUTH_ACL_FILE: acl,
    };
    gwLogin = await issueGatewayCredentials(dir, GW);
    await start();
    await connectGw();
  });
  after(async () => {
    await gateway?.endAsync();
    await ops?.endAsync();
    await up?.kill();
    cleanupDir();
  });

  it('the built-in rules exist; a rule created through the API raises one alarm per crossing', async () => {
    const rules = (await api('/api/alarm-rules')).body.items.map((r: Json) => r.id);
    assert.deepEqual(rules, ['decode-errors', 'device-offline', 'gateway-offline']);
    const res = await fetch(`${up.httpUrl}/api/alarm-rules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'hot',
        name: 'Cold room too warm',
        type: 'overheat',
        severity: 'critical',
        condition: 'threshold',
        point: 'temperature_1',
        op: '>',
        value: 30,
        clear: { op: '<', value: 25 },
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    await reading(27.2);
    await reading(35);
    await reading(36.5);
    await waitFor('the alarm raised', async () => (await alarmsOf('active')).total === 1);
    // one more reading that holds, then a barrier: its alarm event (if any) would have arrived
    await reading(37);
    await waitFor('37 stored', async () => {
      const latest = (await api(`/api/devices/${DEV}/latest`)).body as Json;
      return JSON.stringify(latest).includes('37');
    });
    await waitFor('the raised event on MQTT', () => events.length >= 1);
    await pingBarrier(ops);
    const [alarm] = (await alarmsOf('all')).items;
    assert.deepEqual(
      [alarm.type, alarm.severity, alarm.value, alarm.active, alarm.acknowledged],
      ['overheat', 'critical', 35, true, false],
    );
    assert.deepEqual(
      events.map((e) => [e.topic, e.body.action, e.body.alarm.id, e.body.alarm.severity]),
      [[`mqiot/alarms/device/${DEV}`, 'raised', alarm.id, 'critical']],
    );
    const summary = (await api('/api/alarms/summary')).body;
    assert.equal(summary.active.critical, 1);
  });

  it('a gateway login may not read the alarms', async () => {
    const codes = await subackCodes(gateway!, ['mqiot/alarms/#'], 1);
    assert.ok(
      codes.every((c) => c >= 0x80),
      `SUBACK ${codes}`,
    );
  });

  it('survives a restart of mqiot up: still active, not raised again while the condition holds', async () => {
    const before = (await alarmsOf('active')).items[0];
    await stop();
    events.length = 0;
    await start();
    await connectGw();
    const afterRestart = await alarmsOf('all');
    assert.equal(afterRestart.total, 1);
    assert.deepEqual(afterRestart.items[0], before);
    await reading(38);
    await waitFor('38 stored', async () =>
      JSON.stringify((await api(`/api/devices/${DEV}/latest`)).body).includes('38'),
    );
    await pingBarrier(ops);
    assert.equal((await alarmsOf('all')).total, 1, 'no second alarm');
    assert.deepEqual(events, []);
  });

  it('acknowledged and cleared through the API, each on MQTT; the history says who', async () => {
    const { id } = (await alarmsOf('active')).items[0];
    const acked = await api(`/api/alarms/${id}/ack`, 'POST');
    assert.equal(acked.status, 200);
    assert.equal(acked.body.ackBy, 'admin');
    const cleared = await api(`/api/alarms/${id}/clear`, 'POST');
    assert.deepEqual([cleared.body.active, cleared.body.clearedBy], [false, 'admin']);
    await waitFor('acknowledged and cleared on MQTT', () => events.length >= 2);
    assert.deepEqual(
      events.map((e) => [e.body.action, e.body.alarm.id]),
      [
        ['acknowledged', id],
        ['cleared', id],
      ],
    );
    const history = (await api(`/api/alarms/${id}`)).body.history.map((h: Json) => `${h.action}:${h.by}`);
    assert.deepEqual(history, ['raised:condition', 'acknowledged:admin', 'cleared:admin']);
    assert.equal((await alarmsOf('active')).total, 0);
    // the alarm's transitions are on the device's events too (the dashboard's device page)
    const kinds = (await api(`/api/events?subjectType=device&subject=${DEV}&kind=alarm`)).body.items;
    assert.deepEqual(
      kinds.map((e: Json) => e.detail.action),
      ['cleared', 'acknowledged', 'raised'],
    );
  });
});
