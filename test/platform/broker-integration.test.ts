// The platform attached in process to the real broker, with real MQTT clients over TCP standing in for a
// gateway and a dashboard, the real built-in contracts and frames from the shared vectors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startPlatformApp, type PlatformApp } from '../../src/app/platform-app.ts';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import type { Json } from './helpers.ts';
import { TcpBroker } from '../support/broker.ts';
import { connectClient, connectGateway } from '../support/mqtt.ts';
import { quietPeriod, waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const DLT_ENERGY = '68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16';
const DLT_VOLTAGE = '68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16';
const MODBUS_TCP = '00 01 00 00 00 07 01 03 04 00 05 00 06';

describe('platform attached to the broker (real MQTT over TCP)', () => {
  let tcp: TcpBroker;
  let app: PlatformApp;
  let dir: string;
  let token = '';
  let gateway: MqttClient;
  let dashboard: MqttClient;
  const down: Envelope[] = [];
  const telemetry: { topic: string; body: Record<string, unknown> }[] = [];
  let seq = 100;

  const up = (envelope: Envelope) =>
    new Promise<void>((resolve, reject) =>
      gateway.publish('mqiot/gw/site-1/up', encodeEnvelope(envelope), { qos: 1 }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${app.url}${path}`, {
      ...init,
      headers: { ...bearer(token), ...((init?.headers as Record<string, string>) ?? {}) },
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-int-'));
    tcp = await TcpBroker.start();
    app = await startPlatformApp({
      dataDir: dir,
      broker: tcp.broker,
      http: { host: '127.0.0.1', port: 0 },
      config: { commandTimeoutMs: 300, queryTimeoutMs: 300, tickMs: 50, gatewayValidIntervalMs: 60_000 },
    });
    token = await testToken(app.store, 'admin');
    dashboard = await connectClient(tcp.url, { clientId: 'dashboard' });
    await dashboard.subscribeAsync('mqiot/dev/+/telemetry', { qos: 1 });
    dashboard.on('message', (topic, payload) =>
      telemetry.push({ topic, body: JSON.parse(payload.toString()) }),
    );
    gateway = await connectGateway(tcp.url, 'site-1', {
      clean: false,
      will: {
        topic: 'mqiot/gw/site-1/up',
        payload: encodeEnvelope({
          v: 1,
          k: 'will',
          gw: 'site-1',
          seq: 1,
          ts: Date.now(),
          epoch: 'ep1',
          reason: 'connection lost',
        }),
        qos: 1,
        retain: false,
      },
    });
    gateway.on('message', (_topic, payload) => down.push(decodeEnvelope(payload)));
  });

  after(async () => {
    dashboard?.end(true);
    gateway?.end(true);
    await app?.close();
    await tcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a birth registers devices and is answered with a heartbeat on the downlink', async () => {
    await up({
      v: 1,
      k: 'birth',
      gw: 'site-1',
      seq: 1,
      ts: Date.now(),
      epoch: 'ep1',
      devices: [
        { dev: 'meter-161', c: 'dlt645-2007', pollMs: 60_000 },
        { dev: 'pm-1', c: 'modbus-tcp', pollMs: 60_000 },
      ],
    });
    await waitFor('heartbeat', () => down.find((e) => e.k === 'heartbeat'));
    const devices = await api('/api/devices');
    assert.deepEqual(
      devices.body.items.map((d: { id: string; contractId: string }) => [d.id, d.contractId]),
      [
        ['meter-161', 'dlt645-2007'],
        ['pm-1', 'modbus-tcp'],
      ],
    );
  });

  it('decodes a data group with the built-in contracts, publishes per-device telemetry and stores it', async () => {
    const now = Date.now();
    await up({
      v: 1,
      k: 'data',
      gw: 'site-1',
      seq: ++seq,
      ts: now,
      frames: [
        {
          dev: 'meter-161',
          c: 'dlt645-2007',
          ts: now,
          seq: 0,
          raw: hex(DLT_ENERGY),
          ctx: { di: '00010000' },
        },
        {
          dev: 'pm-1',
          c: 'modbus-tcp',
          ts: now,
          seq: 0,
          raw: hex(MODBUS_TCP),
          ctx: { unit: 1, function: 3, start: 3, count: 2 },
        },
        // A device nobody declared, with no usable contract id: identified from its frame.
        { dev: 'meter-x', c: 'auto', ts: now, seq: 0, raw: hex(DLT_VOLTAGE) },
        {
          dev: 'meter-161',
          c: 'dlt645-2007',
          ts: now + 1,
          seq: 1,
          raw: hex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 00 16'),
        },
      ],
    });
    await waitFor('4 telemetry messages', () => telemetry.length >= 4);
    const meter = telemetry.find((t) => t.topic === 'mqiot/dev/meter-161/telemetry' && t.body.ok);
    assert.deepEqual(meter?.body.points, [{ name: 'energy_active_forward_total', value: 0.26, unit: 'kWh' }]);
    assert.equal(meter?.body.gw, 'site-1');
    assert.equal(meter?.body.gseq, seq);
    const latest = await api('/api/devices/meter-161/latest');
    assert.deepEqual(
      latest.body.items.map((p: { name: string; value: number; unit: string }) => [p.name, p.value, p.unit]),
      [['energy_active_forward_total', 0.26, 'kWh']],
    );
    const pm = await api('/api/devices/pm-1/latest');
    assert.deepEqual(
      pm.body.items.map((p: { name: string; value: number }) => [p.name, p.value]),
      [
        ['holding.3', 5],
        ['holding.4', 6],
      ],
    );
    const x = await api('/api/devices/meter-x');
    assert.equal(x.body.device.contractId, 'dlt645-2007', JSON.stringify(x.body));
    assert.equal(x.body.latest[0]?.value, 100.1, JSON.stringify(x.body));
    const bad = await api('/api/devices/meter-161/frames?errors=true');
    assert.equal(bad.body.items.length, 1);
    assert.match(bad.body.items[0].error.reason, /checksum/);
  });

  it('stores a resent data group once', async () => {
    const before = await app.store.countPoints();
    const now = Date.now();
    const group: Envelope = {
      v: 1,
      k: 'data',
      gw: 'site-1',
      seq: ++seq,
      ts: now,
      frames: [{ dev: 'meter-161', c: 'dlt645-2007', ts: now, seq: 2, raw: hex(DLT_ENERGY) }],
    };
    await up(group);
    await up(group); // a PUBACK comes only once the platform has handled (stored or skipped) the copy
    assert.equal(await app.store.countPoints(), before + 1);
  });

  it('a command goes down, the result comes up, the API shows it executed', async () => {
    const sent = await api('/api/devices/pm-1/commands', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'write-single-register', params: { unit: 1, address: 3, value: 9 } }),
    });
    assert.equal(sent.status, 202);
    const cmd = await waitFor('cmd on the downlink', () =>
      down.find((e) => e.k === 'cmd' && e.id === sent.body.id),
    );
    assert.equal(cmd.k === 'cmd' && cmd.action, 'write-single-register');
    await up({
      v: 1,
      k: 'cmd-result',
      gw: 'site-1',
      seq: ++seq,
      ts: Date.now(),
      id: sent.body.id,
      dev: 'pm-1',
      ok: true,
      result: { raw: '01' },
    });
    const done = await waitFor('executed', async () => {
      const r = await api(`/api/commands/${sent.body.id}`);
      return r.body.state === 'executed' ? r.body : undefined;
    });
    assert.deepEqual(done.result, { raw: '01' });
  });

  it('a command nobody answers is sent 3 times and ends failed', async () => {
    const sent = await api('/api/devices/meter-161/commands', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'poll' }),
    });
    const failed = await waitFor('failed', async () => {
      const r = await api(`/api/commands/${sent.body.id}`);
      return r.body.state === 'failed' ? r.body : undefined;
    });
    assert.equal(failed.attempts, 3);
    const copies = () => down.filter((e) => e.k === 'cmd' && e.id === sent.body.id).length;
    await waitFor('the third copy on the downlink', () => copies() >= 3);
    // A fourth try would follow one command timeout (300 ms) after the third: watch that long.
    await quietPeriod(400);
    assert.equal(copies(), 3);
  });

  it('acknowledges a report', async () => {
    const reportSeq = ++seq;
    await up({ v: 1, k: 'report', gw: 'site-1', seq: reportSeq, ts: Date.now(), report: { uptimeMs: 1 } });
    await waitFor('report-ack', () => down.find((e) => e.k === 'report-ack' && e.ack === reportSeq));
  });

  it('the broker-published will takes the gateway offline, with an event', async () => {
    assert.equal((await api('/api/gateways/site-1')).body.gateway.online, true);
    gateway.stream.destroy(); // connection lost: the broker publishes the will
    const gw = await waitFor('offline', async () => {
      const r = await api('/api/gateways/site-1');
      return r.body.gateway.online === false ? r.body.gateway : undefined;
    });
    assert.ok(gw.onlineChangedAt > 0);
    const events = await api('/api/events?subject=site-1&kind=offline');
    assert.equal(events.body.items[0].detail.reason, 'will');
  });
});
