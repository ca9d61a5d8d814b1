/**
 * queueQos0Messages (Mosquitto's queue_qos0_messages): QoS 0 messages wait for an offline persistent
 * session when it is on, in order with the QoS 1 ones, delivered at QoS 0; off (the default) they
 * reach only connected clients. A session that ends with its connection queues nothing either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteSessionStore } from '../../src/broker/store/sqlite.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect, pingBarrier } from '../support/mqtt.ts';
import { tempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

/** Subscribes `id` persistently to q0/#, goes offline, has q0/1 (QoS 0), q0/2 (QoS 1), q0/3 (QoS 0) published. */
async function publishWhileOffline(tb: TestBroker, id: string, version: 4 | 5): Promise<void> {
  const extra = version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {};
  const a = await tb.connect({ protocolVersion: version, clientId: id, clean: false, ...extra });
  await a.subscribeAsync('q0/#', { qos: 1 });
  await a.endAsync();
  await waitFor('the session to go offline', () => tb.broker.stats.clientsConnected === 0, 10_000);
  const pub = await tb.connect({ protocolVersion: 4, clientId: `${id}-pub` });
  await pub.publishAsync('q0/1', 'zero', { qos: 0 });
  await pub.publishAsync('q0/2', 'one', { qos: 1 });
  await pub.publishAsync('q0/3', 'zero again', { qos: 0 });
  await pingBarrier(pub); // the broker has routed all three
}

/** Comes back; returns [payload, qos] of what arrives up to a ping round trip after the queue. */
async function comeBack(tb: TestBroker, id: string, version: 4 | 5, expected: number) {
  let msgs: ReturnType<typeof collect> = [];
  const back = await tb.connect({ protocolVersion: version, clientId: id, clean: false }, (c) => {
    msgs = collect(c);
  });
  await waitFor(`${expected} queued messages`, () => msgs.length >= expected, 10_000);
  await pingBarrier(back); // the whole queue goes out right after the CONNACK
  return msgs.map((m) => [m.payload, m.packet.qos]);
}

for (const version of [4, 5] as const) {
  test(`queueQos0Messages on: QoS 0 queued for an offline persistent session, in order (MQTT ${version === 4 ? '3.1.1' : '5'})`, async (t) => {
    const tb = await startBroker({ queueQos0Messages: true });
    t.after(() => tb.close());
    await publishWhileOffline(tb, `q0-on-${version}`, version);
    assert.equal(tb.broker.stats.queuedMessages, 3);
    assert.deepEqual(await comeBack(tb, `q0-on-${version}`, version, 3), [
      ['zero', 0],
      ['one', 1],
      ['zero again', 0],
    ]);
    assert.equal(tb.broker.stats.queuedMessages, 0);
    assert.equal(tb.broker.stats.inflightMessages, 0, 'a queued QoS 0 message waits for no acknowledgement');
  });
}

test('queueQos0Messages off (default): only the QoS 1 message waits', async (t) => {
  const tb = await startBroker();
  t.after(() => tb.close());
  await publishWhileOffline(tb, 'q0-off', 4);
  assert.equal(tb.broker.stats.queuedMessages, 1);
  assert.deepEqual(await comeBack(tb, 'q0-off', 4, 1), [['one', 1]]);
});

test('queueQos0Messages on: a session that ends with its connection queues nothing', async (t) => {
  const tb = await startBroker({ queueQos0Messages: true });
  t.after(() => tb.close());
  const a = await tb.connect({ protocolVersion: 5, clientId: 'q0-clean', clean: true });
  await a.subscribeAsync('q0/#', { qos: 1 });
  await a.endAsync();
  await waitFor('the session to end', () => tb.broker.stats.clientsConnected === 0, 10_000);
  const pub = await tb.connect({ protocolVersion: 4, clientId: 'q0-clean-pub' });
  await pub.publishAsync('q0/1', 'zero', { qos: 0 });
  await pingBarrier(pub);
  assert.equal(tb.broker.stats.queuedMessages, 0);
});

test('queueQos0Messages on: queued QoS 0 messages survive a restart with the SQLite store, and leave it once sent', async (t) => {
  const path = join(tempDir(t, 'q0-store'), 'broker.db');
  const first = await startBroker({ queueQos0Messages: true }, { store: new SqliteSessionStore({ path }) });
  let closed = false;
  t.after(() => (closed ? undefined : first.close()));
  await publishWhileOffline(first, 'q0-store', 4);
  await first.close();
  closed = true;
  const store = new SqliteSessionStore({ path });
  const second = await startBroker({ queueQos0Messages: true }, { store });
  t.after(() => second.close());
  await second.broker.ready;
  assert.deepEqual(await comeBack(second, 'q0-store', 4, 3), [
    ['zero', 0],
    ['one', 1],
    ['zero again', 0],
  ]);
  await waitFor(
    'the store to forget the sent messages',
    async () => (await store.loadOutgoing('q0-store')).length === 0,
    10_000,
  );
});
