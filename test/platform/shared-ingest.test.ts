// Two platform instances on one broker share the uplinks through an MQTT 5 shared subscription and one
// database: every reading is stored once, and a command sent by one instance is settled even when its
// result reaches the other.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { startPlatformApp, type PlatformApp } from '../../src/app/platform-app.ts';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { toyFrame, toySource } from './helpers.ts';
import { TcpBroker } from '../support/broker.ts';
import { quietPeriod, waitFor } from '../support/wait.ts';

describe('shared ingest: two platform instances, one shared subscription, one database', () => {
  let tcp: TcpBroker;
  let dir: string;
  let a: PlatformApp;
  let b: PlatformApp;
  let gateway: MqttClient;
  const received = { a: 0, b: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-shared-'));
    tcp = await TcpBroker.start();
    const url = tcp.url;
    const start = (name: string) =>
      startPlatformApp({
        dataDir: dir,
        contractSource: toySource,
        config: { commandTimeoutMs: 800, tickMs: 50 },
        http: { host: '127.0.0.1', port: 0 },
        mqtt: { url, clientId: `mqiot-platform-${name}`, shareGroup: 'platform' },
      });
    a = await start('a');
    b = await start('b');
    a.platform.subscribe((n) => n.type === 'telemetry' && received.a++);
    b.platform.subscribe((n) => n.type === 'telemetry' && received.b++);
    gateway = await mqtt.connectAsync(url, {
      clientId: 'mqiot-gw-shared',
      reconnectPeriod: 0,
      protocolVersion: 5,
    });
  });

  after(async () => {
    await gateway?.endAsync();
    await a?.close();
    await b?.close();
    await tcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const up = (e: Envelope) => gateway.publishAsync('mqiot/gw/shared/up', encodeEnvelope(e), { qos: 1 });

  it('stores every reading exactly once across the instances', async () => {
    await up({
      v: 1,
      k: 'birth',
      gw: 'shared',
      seq: 1,
      ts: Date.now(),
      epoch: 'e',
      devices: [{ dev: 't-1', c: 'toy-temp' }],
    });
    for (let g = 0; g < 20; g++) {
      const now = Date.now();
      await up({
        v: 1,
        k: 'data',
        gw: 'shared',
        seq: 2 + g,
        ts: now,
        frames: [0, 1, 2].map((j) => ({
          dev: 't-1',
          c: 'toy-temp',
          ts: now + j,
          seq: g * 3 + j,
          raw: toyFrame(0xa1, g),
        })),
      });
    }
    await waitFor('60 readings', () => received.a + received.b >= 60);
    await a.platform.whenIdle();
    await b.platform.whenIdle();
    assert.equal(received.a + received.b, 60, 'each data group went to one instance');
    assert.equal(await a.store.countPoints('t-1'), 60);
    assert.ok(
      received.a > 0 && received.b > 0,
      `both instances took a share (a=${received.a}, b=${received.b})`,
    );
  });

  it('a command sent by one instance is settled when its result reaches the other', async () => {
    const commands: Envelope[] = [];
    await gateway.subscribeAsync('mqiot/gw/shared/down', { qos: 1 });
    gateway.on('message', (_t, payload) => commands.push(decodeEnvelope(payload)));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (
          await a.platform.commandService.sendCommand({
            deviceId: 't-1',
            action: 'set',
            params: { value: i },
          })
        ).id,
      );
    await waitFor('4 commands down', () =>
      ids.every((id) => commands.some((c) => c.k === 'cmd' && c.id === id)),
    );
    let seq = 100;
    for (const id of ids)
      await up({ v: 1, k: 'cmd-result', gw: 'shared', seq: ++seq, ts: Date.now(), id, dev: 't-1', ok: true });
    for (const id of ids) {
      const record = await waitFor(`command ${id} executed`, async () => {
        const r = await a.store.getCommand(id);
        return r?.state === 'executed' ? r : undefined;
      });
      assert.equal(record.attempts, 1);
    }
    // Instance a must not resend what the other instance settled: a resend would come one command
    // timeout (800 ms) after the send, so watch past it.
    await quietPeriod(1200);
    for (const id of ids)
      assert.equal(commands.filter((c) => c.k === 'cmd' && c.id === id).length, 1, `${id} sent once`);
  });
});
