/**
 * The SQLite session store: the shared contract suite on a temporary file, restore by a new Broker on
 * the reopened file, exact round trip of MQTT 5 properties, group commit, and failures that surface as
 * rejected promises (so the broker refuses instead of acknowledging).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteSessionStore, SqliteStoreError } from '../../src/broker/store/sqlite.ts';
import type { Message } from '../../src/broker/types.ts';
import type { OutgoingRecord } from '../../src/broker/store/types.ts';
import { runStoreSuite } from './store-suite.ts';
import { connected, newBroker } from './fakes.ts';
import { waitFor } from '../support/wait.ts';
import { tempDir } from '../support/temp.ts';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Barrier: the group commit this turn's writes scheduled has run (and the broker has reacted to it). */
async function nextCommit(store: SqliteSessionStore): Promise<void> {
  const before = store.commits;
  await waitFor('a commit', () => store.commits > before);
}

const dir = tempDir({ after }, 'mqiot-sqlite-store-');
let n = 0;
const freshFile = (): string => join(dir, `store-${++n}.db`);

runStoreSuite('sqlite', () => new SqliteSessionStore({ path: freshFile() }));

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('sqlite: a new Broker on the reopened file restores sessions, subscriptions, queued messages and retained', async () => {
  const path = freshFile();
  const store1 = new SqliteSessionStore({ path });
  const { broker: b1 } = newBroker({}, { store: store1 });
  const a = connected(b1, 'keep', { properties: { sessionExpiryInterval: 3600 } });
  a.ch.handlePacket({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'x/#', qos: 1 },
      { topic: 'y', qos: 2 },
    ],
  });
  a.ch.handleTransportClosed();
  b1.publish({ topic: 'x/1', payload: Buffer.from('while away'), qos: 1 });
  b1.publish({ topic: 'y', payload: Buffer.from('second'), qos: 2 });
  b1.publish({ topic: 'r', payload: Buffer.from('kept'), qos: 0, retain: true });
  await b1.close(); // commits and closes the file

  const store2 = new SqliteSessionStore({ path });
  const { broker: b2 } = newBroker({}, { store: store2 });
  await b2.ready;
  assert.equal(b2.stats.queuedMessages, 2);
  assert.equal(b2.stats.retainedMessages, 1);
  const back = connected(b2, 'keep', { clean: false, properties: { sessionExpiryInterval: 3600 } });
  assert.equal((back.connack as { sessionPresent: boolean }).sessionPresent, true);
  const got = back.out.take() as { cmd: string; topic: string; payload: Buffer; qos: number }[];
  assert.deepEqual(
    got.map((p) => [p.cmd, p.topic, p.payload.toString(), p.qos]),
    [
      ['publish', 'x/1', 'while away', 1],
      ['publish', 'y', 'second', 2],
    ],
  );
  back.ch.handlePacket({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'r', qos: 0 }] });
  const [, retained] = back.out.take() as { topic: string; retain: boolean; payload: Buffer }[];
  assert.equal(retained?.topic, 'r');
  assert.equal(retained?.retain, true);
  assert.equal(retained?.payload.toString(), 'kept');
  await b2.close();
});

test('sqlite: in-flight QoS 2 state survives a reopen (PUBREL resent, incoming ids remembered)', async () => {
  const path = freshFile();
  const store1 = new SqliteSessionStore({ path });
  const { broker: b1 } = newBroker({}, { store: store1 });
  const a = connected(b1, 'q2', { properties: { sessionExpiryInterval: 600 } });
  a.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q', qos: 2 }] });
  a.out.take();
  b1.publish({ topic: 'q', payload: Buffer.from('x'), qos: 2 });
  const [pub] = a.out.take();
  a.ch.handlePacket({ cmd: 'pubrec', messageId: pub!.messageId });
  // an incoming QoS 2 message from the same client, PUBREC'd but not released
  a.ch.handlePacket({
    cmd: 'publish',
    topic: 'other',
    payload: Buffer.from('in'),
    qos: 2,
    retain: false,
    dup: false,
    messageId: 77,
  });
  await waitFor('the PUBREC, after the commit', () => a.out.packets.some((p) => p.cmd === 'pubrec'));
  assert.deepEqual(
    a.out.take().map((p) => p.cmd),
    ['pubrel', 'pubrec'],
  );
  a.ch.handleTransportClosed();
  await b1.close();

  const { broker: b2 } = newBroker({}, { store: new SqliteSessionStore({ path }) });
  const back = connected(b2, 'q2', { clean: false, properties: { sessionExpiryInterval: 600 } });
  const [rel] = back.out.take();
  assert.equal(rel?.cmd, 'pubrel');
  assert.equal(rel?.messageId, pub!.messageId);
  // [MQTT-4.3.3-9] the resent QoS 2 PUBLISH is acknowledged, not delivered again
  back.ch.handlePacket({
    cmd: 'publish',
    topic: 'other',
    payload: Buffer.from('in'),
    qos: 2,
    retain: false,
    dup: true,
    messageId: 77,
  });
  assert.deepEqual(
    back.out.take().map((p) => [p.cmd, p.messageId]),
    [['pubrec', 77]],
  );
  await b2.close();
});

test('[MQTT-4.3.3-9] sqlite: a QoS 2 id is committed with its message — gone before PUBREC, the resend is not delivered again', async () => {
  const path = freshFile();
  const store1 = new SqliteSessionStore({ path });
  const { broker: b1 } = newBroker({}, { store: store1 });
  const sub = connected(b1, 'keep', { properties: { sessionExpiryInterval: 600 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2', qos: 2 }] });
  sub.out.take();
  sub.ch.handleTransportClosed();
  const pubr = connected(b1, 'pub', { properties: { sessionExpiryInterval: 600 } });
  const publish = (dup: boolean) => ({
    cmd: 'publish' as const,
    topic: 'q2',
    payload: Buffer.from('once'),
    qos: 2 as const,
    retain: false,
    dup,
    messageId: 9,
  });
  pubr.ch.handlePacket(publish(false));
  pubr.ch.handleTransportClosed(); // the publisher is gone before its PUBREC could go out
  await nextCommit(store1);
  assert.deepEqual(pubr.out.take(), []);
  await b1.close(); // the broker stops here: what the file holds is what a crash would leave

  const { broker: b2 } = newBroker({}, { store: new SqliteSessionStore({ path }) });
  const back = connected(b2, 'pub', { clean: false, properties: { sessionExpiryInterval: 600 } });
  back.ch.handlePacket(publish(true));
  await waitFor('the PUBREC', () => back.out.packets.length > 0);
  assert.deepEqual(
    back.out.take().map((p) => [p.cmd, p.messageId]),
    [['pubrec', 9]],
  );
  const again = connected(b2, 'keep', { clean: false, properties: { sessionExpiryInterval: 600 } });
  const got = again.out.take().filter((p) => p.cmd === 'publish') as { payload: Buffer }[];
  assert.deepEqual(
    got.map((p) => p.payload.toString()),
    ['once'],
  );
  await b2.close();
});

test('sqlite: a restored session is read-checked as its last user before its client is back', async () => {
  const path = freshFile();
  const hooks = {
    authorizeDeliver: (c: { username?: string }, topic: string) => topic.startsWith(`${c.username}/`),
  };
  const store1 = new SqliteSessionStore({ path });
  const { broker: b1 } = newBroker({}, { store: store1, hooks });
  const alice = connected(b1, 'alice-phone', {
    username: 'alice',
    properties: { sessionExpiryInterval: 600 },
  });
  alice.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] });
  alice.out.take();
  alice.ch.handleTransportClosed();
  await nextCommit(store1);
  await b1.close();

  const store2 = new SqliteSessionStore({ path });
  const { broker: b2 } = newBroker({}, { store: store2, hooks });
  b2.publish({ topic: 'alice/mail', payload: Buffer.from('yours'), qos: 1 });
  b2.publish({ topic: 'bob/mail', payload: Buffer.from('not yours'), qos: 1 });
  await nextCommit(store2);
  const back = connected(b2, 'alice-phone', {
    clean: false,
    username: 'alice',
    properties: { sessionExpiryInterval: 600 },
  });
  const got = back.out.take().filter((p) => p.cmd === 'publish') as { topic: string }[];
  assert.deepEqual(
    got.map((p) => p.topic),
    ['alice/mail'],
  );
  await b2.close();
});

test('sqlite: messages round-trip exactly (payload bytes, MQTT 5 properties, expiry, origin)', async () => {
  const path = freshFile();
  const message: Message = {
    topic: 'a/b',
    payload: Buffer.from([0, 1, 2, 255, 0xfe, 0x80]),
    qos: 2,
    retain: true,
    properties: {
      payloadFormatIndicator: false,
      messageExpiryInterval: 120,
      responseTopic: 'reply/to',
      correlationData: Buffer.from([9, 8, 7, 0]),
      userProperties: { one: '1', many: ['a', 'b'], bin: '{"not":"binary"}' },
      contentType: 'application/octet-stream',
    },
    expiresAt: 1_700_000_123_456,
    origin: 'publisher-1',
  };
  // a user property that looks like the store's own encoding must stay text
  const tricky: Message = {
    ...message,
    topic: 'a/c',
    properties: { userProperties: { v: 'x', bin: 'correlationData' } },
  };
  const rec: OutgoingRecord = {
    seq: 4,
    state: 'sent',
    packetId: 300,
    message,
    qos: 1,
    retain: false,
    subscriptionIds: [3, 1000000],
  };
  const s1 = new SqliteSessionStore({ path });
  await s1.saveSession({ clientId: 'c', expiryInterval: 0xffffffff, disconnectedAt: 5, protocolVersion: 5 });
  await s1.saveOutgoing('c', rec);
  await s1.retained.set(message);
  await s1.retained.set(tricky);
  s1.close();

  const s2 = new SqliteSessionStore({ path });
  const [loaded] = s2.loadOutgoing('c');
  assert.deepEqual(loaded, rec);
  assert.ok(Buffer.isBuffer(loaded!.message.properties?.correlationData));
  assert.deepEqual(s2.retained.load(), [message, tricky]);
  assert.equal(s2.loadSessions()[0]?.expiryInterval, 0xffffffff);
  s2.close();
});

test('sqlite: group commit — many writes in one turn share one COMMIT, and resolve only after it', async () => {
  const store = new SqliteSessionStore({ path: freshFile() });
  const before = store.commits;
  await store.saveSession({ clientId: 'g', expiryInterval: 60, disconnectedAt: 0, protocolVersion: 5 });
  assert.equal(store.commits, before + 1);
  let settled = 0;
  const writes: Promise<void>[] = [];
  for (let i = 1; i <= 500; i++) {
    const p = store.saveOutgoing('g', {
      seq: i,
      state: 'queued',
      packetId: 0,
      message: {
        topic: 't',
        payload: Buffer.from(String(i)),
        qos: 1,
        retain: false,
        properties: undefined,
        expiresAt: 0,
        origin: 'p',
      },
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    void p.then(() => settled++);
    writes.push(p);
  }
  await Promise.resolve(); // microtasks run, the turn is not over: nothing committed yet
  assert.equal(settled, 0);
  assert.equal(store.commits, before + 1);
  await Promise.all(writes);
  assert.equal(settled, 500);
  assert.equal(store.commits, before + 2, 'one COMMIT for 500 writes');
  // a write in a later turn opens a new transaction
  await turn();
  await store.deleteOutgoing('g', 1);
  assert.equal(store.commits, before + 3);
  assert.equal(store.loadOutgoing('g').length, 499);
  store.close();
});

test('sqlite: close() commits the open transaction and resolves its waiters; later writes reject', async () => {
  const path = freshFile();
  const store = new SqliteSessionStore({ path });
  const pending = store.retained.set({
    topic: 'late',
    payload: Buffer.from('v'),
    qos: 0,
    retain: true,
    properties: undefined,
    expiresAt: 0,
    origin: '',
  });
  store.close();
  await pending;
  await assert.rejects(store.retained.delete('late'), SqliteStoreError);
  const again = new SqliteSessionStore({ path });
  assert.deepEqual(
    again.retained.load().map((m) => m.topic),
    ['late'],
  );
  again.close();
});

test('sqlite: a second store on the same file is refused while the first has it open', () => {
  const path = freshFile();
  const first = new SqliteSessionStore({ path });
  try {
    assert.throws(() => new SqliteSessionStore({ path, busyTimeoutMs: 0 }), SqliteStoreError);
  } finally {
    first.close();
  }
  new SqliteSessionStore({ path }).close(); // free again once closed
});

test('sqlite: a failing store write is not acknowledged — the publisher is disconnected, no PUBACK', async () => {
  const store = new SqliteSessionStore({ path: freshFile() });
  const { broker } = newBroker({}, { store });
  const sub = connected(broker, 'durable', { properties: { sessionExpiryInterval: 600 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'd', qos: 1 }] });
  sub.ch.handleTransportClosed();
  const pub = connected(broker, 'p');
  await nextCommit(store);
  store.close(); // from now on every write rejects, as with a full or broken disk
  pub.ch.handlePacket({
    cmd: 'publish',
    topic: 'd',
    payload: Buffer.from('lost?'),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 5,
  });
  await waitFor('the publisher to be disconnected', () => pub.out.ended);
  const cmds = pub.out.take().map((p) => p.cmd);
  assert.ok(!cmds.includes('puback'), `no PUBACK: ${cmds.join(',')}`);
  assert.equal(pub.out.ended, true, 'connection closed so the client resends');
  await broker.close();
});

test('sqlite: a store failure on a message nobody acknowledges (server publish, will) is no unhandled rejection', async () => {
  const store = new SqliteSessionStore({ path: freshFile() });
  const { broker } = newBroker({}, { store });
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => {
    unhandled.push(err);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    store.close(); // every write rejects from now on
    broker.publish({ topic: 'state', payload: Buffer.from('v'), qos: 1, retain: true });
    // Node reports an unhandled rejection at the end of the turn it happens in: two turns suffice.
    await nextTurn();
    await nextTurn();
    assert.deepEqual(unhandled, []);
    assert.equal(broker.stats.retainedMessages, 1, 'kept in memory even though the store failed');
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await broker.close();
  }
});
