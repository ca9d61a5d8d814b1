// The acknowledgement path in process: a gateway's QoS 1 uplink is PUBACKed by the broker only once the
// platform has stored it; a store that fails is retried, then the PUBLISH is refused (v5 reason 0x80) and
// the gateway's resend is stored exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient, Packet } from 'mqtt';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { attachToBroker } from '../../src/app/broker-attach.ts';
import { attachToMqtt } from '../../src/app/mqtt-attach.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { PlatformStore, ReadingInput } from '../../src/platform/store/index.ts';

import { tempStore, toyFrame, toySource, withInsertReadings } from './helpers.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { waitFor } from '../support/wait.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const GW = 'gw-ack';

/** The real store, except insertReadings can be held (`called` may wait) and made to fail. */
function flakyStore(
  real: PlatformStore,
  hooks: { fail(): boolean; called(readings: readonly ReadingInput[]): void | Promise<void> },
): PlatformStore {
  return withInsertReadings(real, async (insert, ...args) => {
    await hooks.called(args[0]);
    if (hooks.fail()) throw new Error('disk I/O error (injected)');
    return insert(...args);
  });
}
const UP = `mqiot/gw/${GW}/up`;

describe('uplink acknowledgement waits for the store (real broker, real SQLite)', () => {
  let tb: TestBroker;
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let detach: () => void;
  let client: MqttClient;
  /** insertReadings fails while this is > 0 (counts down per call); Infinity = until reset. */
  let failures = 0;
  let inserts = 0;
  const codes: number[] = [];

  const group = (seq: number, value: number): Buffer =>
    encodeEnvelope({
      v: 1,
      k: 'data',
      gw: GW,
      seq,
      ts: Date.now(),
      frames: [{ dev: 'ack-temp', c: 'toy-temp', ts: Date.now(), seq, raw: toyFrame(0xa1, value) }],
    } as Envelope);
  /** Resolves with the publish error (undefined = acknowledged with success). */
  const publish = (payload: Buffer): Promise<Error | undefined> =>
    new Promise((resolve) => client.publish(UP, payload, { qos: 1 }, (err) => resolve(err ?? undefined)));
  const stored = async (): Promise<number[]> =>
    (await store.frames({ deviceId: 'ack-temp', limit: 1000 })).map((f) => f.groupSeq);

  before(async () => {
    tb = await startBroker();
    ({ store, cleanup } = await tempStore());
    const real = store;
    const flaky = flakyStore(real, {
      fail: () => (failures > 0 ? (failures--, true) : false),
      called: () => {
        inserts++;
      },
    });
    const contracts = new ContractRegistry(real, toySource);
    await contracts.load();
    platform = new Platform(
      { ingestRetries: 2, ingestRetryMs: 20 },
      { store: flaky, contracts, secretHashing: mosquittoHashing },
    );
    await platform.start({ timers: false });
    detach = attachToBroker(platform, tb.broker).detach;
    client = await tb.connect({ protocolVersion: 5, clientId: 'mqiot-gw-ack' });
    client.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback') codes.push(p.reasonCode ?? 0);
    });
  });
  after(async () => {
    detach();
    await platform.stop();
    await tb.close();
    await cleanup();
  });

  it('the PUBACK of a data group comes only once its readings are in the store', async () => {
    const seen: number[][] = [];
    for (let seq = 1; seq <= 5; seq++) {
      await new Promise<void>((resolve, reject) =>
        client.publish(UP, group(seq, 10 + seq), { qos: 1 }, (err) => {
          if (err) return reject(err);
          // read synchronously at the PUBACK: SQLite answers from the committed state
          void stored().then((s) => {
            seen.push(s);
            resolve();
          }, reject);
        }),
      );
    }
    for (let i = 0; i < 5; i++) assert.ok(seen[i]!.includes(i + 1), `group ${i + 1} acked before stored`);
  });

  it('a store error is retried with backoff: the gateway sees a normal PUBACK and one copy is stored', async () => {
    failures = 2; // ingestRetries = 2: the third attempt succeeds
    const before = inserts;
    assert.equal(await publish(group(6, 16)), undefined);
    assert.equal(inserts - before, 3);
    assert.deepEqual(
      (await stored()).filter((s) => s === 6),
      [6],
    );
  });

  it('a store that keeps failing refuses the PUBLISH with 0x80; the resend after a later group is stored once', async () => {
    failures = Infinity;
    codes.length = 0;
    const err = await publish(group(7, 17));
    assert.ok(err, 'the refused PUBLISH reports an error to the gateway');
    assert.deepEqual(codes, [0x80]);
    assert.equal((await stored()).includes(7), false);
    failures = 0;
    // a later group goes in first (the gateway keeps 7 in its outbox and sends it again later)
    assert.equal(await publish(group(8, 18)), undefined);
    assert.equal(await publish(group(7, 17)), undefined);
    assert.equal(await publish(group(7, 17)), undefined); // a duplicate resend is harmless
    const all = await stored();
    assert.deepEqual(all.filter((s) => s === 7 || s === 8).sort(), [7, 8]);
    assert.equal(await store.countPoints('ack-temp'), 8);
  });

  it('an undecodable uplink is acknowledged at once and dropped (a resend cannot help)', async () => {
    codes.length = 0;
    assert.equal(await publish(Buffer.from('not an envelope')), undefined);
    assert.deepEqual(codes, [0]);
  });
});

describe('mqiot cloud path with a kept session: an instance that cannot store an uplink does not PUBACK it', () => {
  let tb: TestBroker;
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let detach: () => Promise<void>;
  let failures = 0;

  before(async () => {
    tb = await startBroker();
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    const flaky = flakyStore(store, {
      fail: () => (failures > 0 ? (failures--, true) : false),
      called: () => {},
    });
    platform = new Platform(
      { ingestRetries: 1, ingestRetryMs: 10 },
      { store: flaky, contracts, secretHashing: mosquittoHashing },
    );
    await platform.start({ timers: false });
    // a session kept at the broker (--session-expiry): the old way, for gateways without data acks
    ({ detach } = await attachToMqtt(platform, {
      url: tb.url,
      clientId: 'mqiot-platform-cloud',
      sessionExpiry: 86_400,
    }));
  });
  after(async () => {
    await detach();
    await platform.stop();
    await tb.close();
    await cleanup();
  });

  it('the instance reconnects, the broker redelivers from its session, the group is stored once', async () => {
    const gw = await tb.connect({ protocolVersion: 5, clientId: 'mqiot-gw-cloud' });
    failures = 2; // both attempts of the first delivery fail
    const payload = encodeEnvelope({
      v: 1,
      k: 'data',
      gw: 'gw-cloud',
      seq: 1,
      ts: Date.now(),
      frames: [{ dev: 'cloud-temp', c: 'toy-temp', ts: Date.now(), seq: 1, raw: toyFrame(0xa1, 42) }],
    });
    await gw.publishAsync('mqiot/gw/gw-cloud/up', payload, { qos: 1 });
    await waitFor('the failed attempts', () => failures === 0, 10_000);
    await waitFor('the redelivered group stored', async () => (await store.countPoints('cloud-temp')) > 0);
    await platform.whenIdle();
    assert.equal(await store.countPoints('cloud-temp'), 1);
    assert.equal((await store.frames({ deviceId: 'cloud-temp' })).length, 1);
  });
});

describe('a data run is decoded while the one before it commits', () => {
  let tb: TestBroker;
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let detach: () => void;
  let client: MqttClient;
  /** Groups (by seq) whose insert has been called, in call order. */
  const inserting: number[] = [];
  /** While set, every insert waits for it. */
  let gate: Promise<void> | undefined;
  let open = () => {};
  let failures = 0;

  const group = (seq: number, dev: string): Buffer =>
    encodeEnvelope({
      v: 1,
      k: 'data',
      gw: 'gw-pipe',
      seq,
      ts: Date.now(),
      frames: [{ dev, c: 'toy-temp', ts: Date.now(), seq, raw: toyFrame(0xa1, 20 + seq) }],
    });
  /** Resolves with the order of the PUBACK (its position among all PUBACKs) or the error. */
  const acked: number[] = [];
  const publish = (seq: number, dev: string): Promise<Error | undefined> =>
    new Promise((resolve) =>
      client.publish('mqiot/gw/gw-pipe/up', group(seq, dev), { qos: 1 }, (err) => {
        if (!err) acked.push(seq);
        resolve(err ?? undefined);
      }),
    );

  before(async () => {
    tb = await startBroker();
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    const held = flakyStore(store, {
      called: async (readings) => {
        inserting.push(...new Set(readings.map((r) => r.groupSeq)));
        if (gate) await gate;
      },
      fail: () => (failures > 0 ? (failures--, true) : false),
    });
    platform = new Platform(
      { ingestRetries: 1, ingestRetryMs: 10 },
      { store: held, contracts, secretHashing: mosquittoHashing },
    );
    await platform.start({ timers: false });
    detach = attachToBroker(platform, tb.broker).detach;
    client = await tb.connect({ protocolVersion: 5, clientId: 'mqiot-gw-pipe' });
  });
  after(async () => {
    open();
    detach();
    await platform.stop();
    await tb.close();
    await cleanup();
  });

  it('the next run registers its devices meanwhile; commits and PUBACKs keep arrival order', async () => {
    gate = new Promise<void>((resolve) => (open = resolve));
    const first = publish(1, 'pipe-a');
    await waitFor('the first run at the store', () => inserting.includes(1));
    const second = publish(2, 'pipe-b');
    // decoded and registered while the first commit is held…
    await waitFor('pipe-b registered', async () => (await store.getDevice('pipe-b')) !== undefined);
    // …but not stored before it
    assert.deepEqual(inserting, [1]);
    assert.deepEqual(acked, []);
    gate = undefined;
    open();
    assert.equal(await first, undefined);
    assert.equal(await second, undefined);
    assert.deepEqual(inserting, [1, 2]);
    assert.deepEqual(acked, [1, 2]);
    assert.equal(await store.countPoints('pipe-a'), 1);
    assert.equal(await store.countPoints('pipe-b'), 1);
  });

  it('a run given up is refused alone: the run prepared behind it is stored, and its resend too', async () => {
    gate = new Promise<void>((resolve) => (open = resolve));
    failures = 2; // both attempts of the first run (ingestRetries 1)
    const first = publish(3, 'pipe-c');
    await waitFor('the first run at the store', () => inserting.includes(3));
    const second = publish(4, 'pipe-d');
    await waitFor('pipe-d registered', async () => (await store.getDevice('pipe-d')) !== undefined);
    gate = undefined;
    open();
    assert.ok(await first, 'the first group is not acknowledged');
    assert.equal(await second, undefined);
    assert.equal(await store.countPoints('pipe-c'), 0);
    assert.equal(await store.countPoints('pipe-d'), 1);
    // the gateway sends 3 again (below the mark that 4 raised): it is applied
    assert.equal(await publish(3, 'pipe-c'), undefined);
    assert.equal(await store.countPoints('pipe-c'), 1);
  });
});
