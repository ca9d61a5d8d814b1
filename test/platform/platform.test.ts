import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { RecordingDownlink, tempStore, toyFrame, toySource } from './helpers.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const T0 = Date.UTC(2026, 0, 1);
const UP = 'mqiot/gw/gw-1/up';

describe('Platform core (in process, fake clock, real SQLite)', () => {
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  const clock = new FakeClock(T0);
  const downlink = new RecordingDownlink();
  const send = async (envelope: Envelope) => {
    platform.handleUplink(UP, encodeEnvelope(envelope));
    await platform.whenIdle();
  };
  const dataGroup = (
    seq: number,
    frames: { dev: string; c: string; raw: Uint8Array; seq: number }[],
  ): Envelope => ({
    v: 1,
    k: 'data',
    gw: 'gw-1',
    seq,
    ts: clock.now(),
    frames: frames.map((f) => ({ ...f, ts: clock.now() })),
  });

  before(async () => {
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    platform = new Platform(
      { commandTimeoutMs: 1000, gatewayValidIntervalMs: 10_000, heartbeatIntervalMs: 5000 },
      { store, contracts, secretHashing: mosquittoHashing, clock },
    );
    platform.attach(downlink);
    await platform.start({ timers: false });
  });
  after(async () => {
    await platform.stop();
    await cleanup();
  });

  it('a birth registers the gateway and its devices, marks it online and is answered by a heartbeat', async () => {
    await send({
      v: 1,
      k: 'birth',
      gw: 'gw-1',
      seq: 1,
      ts: T0,
      epoch: 'e1',
      devices: [{ dev: 'temp-1', c: 'toy-temp', pollMs: 1000, model: 'T100' }],
    });
    const device = await store.getDevice('temp-1');
    assert.equal(device?.contractId, 'toy-temp');
    assert.equal(device?.gatewayId, 'gw-1');
    assert.equal(device?.pollMs, 1000);
    assert.equal(device?.model, 'T100');
    assert.equal((await store.getGateway('gw-1'))?.online, true);
    assert.equal(downlink.down('heartbeat').length, 1);
    const kinds = (await store.listEvents({})).map((e) => `${e.subjectType}:${e.kind}`).sort();
    assert.deepEqual(kinds, ['device:registered', 'gateway:online', 'gateway:registered']);
  });

  it('decodes a data group, identifies an unknown device from its frame, stores and publishes readings', async () => {
    await send(
      dataGroup(2, [
        { dev: 'temp-1', c: 'toy-temp', raw: toyFrame(0xa1, 215), seq: 0 },
        { dev: 'hum-9', c: 'auto', raw: toyFrame(0xb2, 44), seq: 0 },
        { dev: 'temp-1', c: 'toy-temp', raw: Uint8Array.from([0xa1, 1, 0]), seq: 1 },
      ]),
    );
    assert.deepEqual(
      (await store.latest('temp-1')).map((p) => [p.name, p.value, p.unit]),
      [['temperature', 21.5, '°C']],
    );
    const hum = await store.getDevice('hum-9');
    assert.equal(hum?.contractId, 'toy-hum', 'identified by detection');
    const registered = await store.listEvents({ subjectId: 'hum-9', kind: 'registered' });
    assert.equal(registered[0]?.detail.identifiedBy, 'detected');
    const bad = await store.frames({ deviceId: 'temp-1', errorsOnly: true });
    assert.equal(bad.length, 1, 'the undecodable frame is kept');
    assert.equal(bad[0]?.error?.reason, 'checksum: mismatch');
    const telemetry = downlink.telemetry();
    assert.deepEqual(
      telemetry.map((t) => t.topic),
      ['mqiot/dev/temp-1/telemetry', 'mqiot/dev/hum-9/telemetry', 'mqiot/dev/temp-1/telemetry'],
    );
    assert.deepEqual(telemetry[1]?.body.points, [{ name: 'humidity', value: 4.4, unit: '%' }]);
    assert.equal(telemetry[1]?.body.gw, 'gw-1');
    assert.equal(telemetry[2]?.body.ok, false);
    assert.equal((await store.getDevice('temp-1'))?.online, true);
  });

  it('stores a resent data group once', async () => {
    const before = await store.countPoints();
    await send(dataGroup(2, [{ dev: 'temp-1', c: 'toy-temp', raw: toyFrame(0xa1, 215), seq: 0 }]));
    assert.equal(await store.countPoints(), before);
  });

  it('acknowledges every report and stores it once', async () => {
    const report: Envelope = { v: 1, k: 'report', gw: 'gw-1', seq: 3, ts: T0, report: { uptimeMs: 5 } };
    await send(report);
    await send(report);
    assert.deepEqual(
      downlink.down('report-ack').map((e) => (e as { ack: number }).ack),
      [3, 3],
    );
    assert.equal((await store.listReports('gw-1')).length, 1);
  });

  it('sends a command down and records it executed on the gateway result', async () => {
    const record = await platform.commandService.sendCommand({
      deviceId: 'temp-1',
      action: 'set',
      params: { value: 3 },
    });
    assert.equal(record.state, 'sent');
    const cmd = downlink.down('cmd').at(-1) as { id: string; dev: string; action: string };
    assert.deepEqual([cmd.id, cmd.dev, cmd.action], [record.id, 'temp-1', 'set']);
    clock.advance(100);
    await send({
      v: 1,
      k: 'cmd-result',
      gw: 'gw-1',
      seq: 4,
      ts: clock.now(),
      id: record.id,
      dev: 'temp-1',
      ok: true,
      result: { raw: 'a103a4' },
    });
    const saved = await store.getCommand(record.id);
    assert.equal(saved?.state, 'executed');
    assert.deepEqual(saved?.result, { raw: 'a103a4' });
  });

  it('refuses an action the device contract does not know', async () => {
    await assert.rejects(platform.commandService.sendCommand({ deviceId: 'temp-1', action: 'explode' }), {
      code: 'invalid_input',
    });
    await assert.rejects(platform.commandService.sendCommand({ deviceId: 'nope', action: 'set' }), {
      code: 'not_found',
    });
  });

  it('control command: a command nobody answers fails after exactly 3 sends', async () => {
    const record = await platform.commandService.sendCommand({
      deviceId: 'temp-1',
      action: 'set',
      params: { value: 1 },
    });
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await platform.runCommandTimers();
    }
    const sent = downlink.down('cmd').filter((e) => (e as { id: string }).id === record.id);
    assert.equal(sent.length, 3);
    assert.equal((await store.getCommand(record.id))?.state, 'failed');
  });

  it('sends heartbeats to known gateways each period', async () => {
    const beforeCount = downlink.down('heartbeat').length;
    clock.advance(5000);
    await platform.tick();
    assert.equal(downlink.down('heartbeat').length, beforeCount + 1);
  });

  it('a will takes the gateway and its devices offline; silence does the same', async () => {
    await send({
      v: 1,
      k: 'will',
      gw: 'gw-1',
      seq: 1,
      ts: clock.now(),
      epoch: 'e1',
      reason: 'connection lost',
    });
    assert.equal((await store.getGateway('gw-1'))?.online, false);
    assert.equal((await store.getDevice('temp-1'))?.online, false);
    const offline = await store.listEvents({ subjectId: 'gw-1', kind: 'offline' });
    assert.equal(offline[0]?.detail.reason, 'will');
    // Back with a new birth, then silent for longer than the valid interval.
    await send({ v: 1, k: 'birth', gw: 'gw-1', seq: 10, ts: clock.now(), epoch: 'e1', devices: [] });
    assert.equal((await store.getGateway('gw-1'))?.online, true);
    clock.advance(10_001);
    await platform.tick();
    const gw = await store.getGateway('gw-1');
    assert.equal(gw?.online, false);
    assert.equal(gw?.onlineChangedAt, clock.now());
  });

  it('stores a reading of a device whose id cannot be a topic level, without publishing it', async () => {
    const published = downlink.telemetry().length;
    await send(
      dataGroup(60, [
        { dev: 'bad/id', c: 'toy-temp', raw: toyFrame(0xa1, 5), seq: 0 },
        { dev: 'temp-1', c: 'toy-temp', raw: toyFrame(0xa1, 6), seq: 60 },
      ]),
    );
    assert.equal((await store.latest('bad/id'))[0]?.value, 0.5);
    assert.deepEqual(
      downlink
        .telemetry()
        .slice(published)
        .map((t) => t.topic),
      ['mqiot/dev/temp-1/telemetry'],
    );
  });

  it('drops an uplink whose envelope names another gateway than its topic', async () => {
    const before = await store.countPoints();
    platform.handleUplink(
      'mqiot/gw/gw-2/up',
      encodeEnvelope(dataGroup(50, [{ dev: 'temp-1', c: 'toy-temp', raw: toyFrame(0xa1, 1), seq: 9 }])),
    );
    await platform.whenIdle();
    assert.equal(await store.countPoints(), before);
  });
});
