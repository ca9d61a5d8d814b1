import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySessionStore } from '../../src/broker/store/memory.ts';
import { runStoreSuite } from './store-suite.ts';
import { connected, newBroker } from './fakes.ts';

runStoreSuite('memory', () => new MemorySessionStore());

test('memory: a new Broker on the same store restores sessions, subscriptions, queued messages and retained', () => {
  const store = new MemorySessionStore();
  const { broker: b1 } = newBroker({}, { store });
  const a = connected(b1, 'keep', { properties: { sessionExpiryInterval: 3600 } });
  a.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x/#', qos: 1 }] });
  a.ch.handleTransportClosed();
  b1.publish({ topic: 'x/1', payload: Buffer.from('while away'), qos: 1 });
  b1.publish({ topic: 'r', payload: Buffer.from('kept'), qos: 0, retain: true });

  const { broker: b2 } = newBroker({}, { store });
  const back = connected(b2, 'keep', { clean: false, properties: { sessionExpiryInterval: 3600 } });
  assert.equal((back.connack as { sessionPresent: boolean }).sessionPresent, true);
  const got = back.out.take() as { cmd: string; topic: string; payload: Buffer }[];
  assert.deepEqual(
    got.map((p) => [p.cmd, p.topic, p.payload.toString()]),
    [['publish', 'x/1', 'while away']],
  );
  back.ch.handlePacket({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'r', qos: 0 }] });
  const [, retained] = back.out.take() as { topic: string; retain: boolean }[];
  assert.equal(retained?.topic, 'r');
  assert.equal(retained?.retain, true);
});

test('write-through: a queued record gets its packet id when sent and leaves the store when acknowledged', () => {
  const store = new MemorySessionStore();
  const { broker } = newBroker({}, { store });
  const a = connected(broker, 'wt', { properties: { sessionExpiryInterval: 600 } });
  a.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q', qos: 2 }] });
  a.ch.handleTransportClosed();
  broker.publish({ topic: 'q', payload: Buffer.from('x'), qos: 2 });
  assert.deepEqual(
    store.loadOutgoing('wt').map((r) => [r.state, r.packetId]),
    [['queued', 0]],
  );
  const b = connected(broker, 'wt', { clean: false, properties: { sessionExpiryInterval: 600 } });
  const [pub] = b.out.take();
  assert.deepEqual(
    store.loadOutgoing('wt').map((r) => [r.state, r.packetId]),
    [['sent', pub!.messageId]],
  );
  b.ch.handlePacket({ cmd: 'pubrec', messageId: pub!.messageId });
  assert.equal(store.loadOutgoing('wt')[0]?.state, 'pubrel');
  b.ch.handlePacket({ cmd: 'pubcomp', messageId: pub!.messageId });
  assert.deepEqual(store.loadOutgoing('wt'), []);
});

test('memory: a message routed to several offline sessions is one object; each session keeps only its own record', () => {
  const store = new MemorySessionStore();
  const { broker } = newBroker({}, { store });
  const ids = ['f0', 'f1', 'f2'];
  for (const id of ids) {
    const c = connected(broker, id, { properties: { sessionExpiryInterval: 600 } });
    c.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fan', qos: 1 }] });
    c.ch.handleTransportClosed();
  }
  broker.publish({ topic: 'fan', payload: Buffer.from('once'), qos: 1 });
  const records = ids.map((id) => store.loadOutgoing(id)[0]!);
  assert.deepEqual(
    records.map((r) => [r.state, r.qos]),
    ids.map(() => ['queued', 1]),
    'a record of its own per session',
  );
  assert.equal(new Set(records.map((r) => r.message)).size, 1, 'one message object for all');
  assert.equal(new Set(records.map((r) => r.message.payload)).size, 1, 'one payload buffer');
});
