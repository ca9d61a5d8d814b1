// The per-reading telemetry JSON is built and published only while some MQTT client subscribes to the
// device's topic (the broker says so through the attachment); readings are stored either way.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { attachToBroker } from '../../src/app/broker-attach.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';
import { tempStore, toyFrame, toySource } from './helpers.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { waitFor } from '../support/wait.ts';

const GW = 'gw-tsub';
const UP = `mqiot/gw/${GW}/up`;

describe('telemetry JSON only for subscribed topics (real broker)', () => {
  let tb: TestBroker;
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let detach: () => void;
  let gateway: MqttClient;

  const group = (seq: number, dev: string): Buffer =>
    encodeEnvelope({
      v: 1,
      k: 'data',
      gw: GW,
      seq,
      ts: Date.now(),
      frames: [{ dev, c: 'toy-temp', ts: Date.now(), seq, raw: toyFrame(0xa1, 20 + seq) }],
    } as Envelope);

  before(async () => {
    tb = await startBroker();
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    platform = new Platform({}, { store, contracts, secretHashing: mosquittoHashing });
    await platform.start({ timers: false });
    detach = attachToBroker(platform, tb.broker).detach;
    gateway = await tb.connect({ protocolVersion: 5, clientId: `mqiot-${GW}` });
  });
  after(async () => {
    detach();
    await platform.stop();
    await tb.close();
    await cleanup();
  });

  it('asks the broker per device topic, and publishes to a subscriber that comes later', async () => {
    assert.equal(platform.telemetryWanted('t-1'), false, 'nobody subscribes yet');
    await gateway.publishAsync(UP, group(1, 't-1'), { qos: 1 });
    assert.equal(await store.countPoints('t-1'), 1, 'stored without a subscriber');

    const viewer = await tb.connect({ protocolVersion: 5, clientId: 'viewer' });
    const got: { dev: string; seq: number }[] = [];
    viewer.on('message', (_topic, payload) => got.push(JSON.parse(payload.toString())));
    await viewer.subscribeAsync('mqiot/dev/t-1/telemetry', { qos: 1 });
    assert.equal(platform.telemetryWanted('t-1'), true);
    assert.equal(platform.telemetryWanted('t-2'), false, 'another device topic still has nobody');
    await gateway.publishAsync(UP, group(2, 't-1'), { qos: 1 });
    await waitFor('the telemetry of the second reading', () => got.length === 1);
    assert.deepEqual(
      got.map((m) => [m.dev, m.seq]),
      [['t-1', 2]],
    );

    await viewer.unsubscribeAsync('mqiot/dev/t-1/telemetry');
    assert.equal(platform.telemetryWanted('t-1'), false, 'the subscription is gone');
    await viewer.endAsync();
  });
});
