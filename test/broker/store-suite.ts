/**
 * Contract tests every SessionStore implementation must pass. A durable store
 * calls `runStoreSuite('sqlite', () => new SqliteStore(...))` from its own test file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/broker/types.ts';
import type { OutgoingRecord, SessionStore, SubscriptionRecord } from '../../src/broker/store/types.ts';

const msg = (topic: string, payload = 'p'): Message => ({
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  properties: { contentType: 'text/plain', userProperties: { a: '1' } },
  expiresAt: 0,
  origin: 'pub',
});

const sub = (filter: string, qos: 0 | 1 | 2 = 1): SubscriptionRecord => ({
  filter,
  qos,
  noLocal: false,
  retainAsPublished: true,
  retainHandling: 1,
  subscriptionId: 7,
});

const out = (seq: number, state: OutgoingRecord['state'], packetId: number): OutgoingRecord => ({
  seq,
  state,
  packetId,
  message: msg('t/' + seq, 'm' + seq),
  qos: 1,
  retain: false,
  subscriptionIds: [7],
});

export function runStoreSuite(name: string, create: () => SessionStore | Promise<SessionStore>): void {
  const withStore = async (fn: (s: SessionStore) => Promise<void>): Promise<void> => {
    const s = await create();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };

  test(`${name}: sessions are saved with their subscriptions and deleted`, () =>
    withStore(async (s) => {
      await s.saveSession({ clientId: 'c1', expiryInterval: 60, disconnectedAt: 0, protocolVersion: 5 });
      await s.saveSubscription('c1', sub('a/+'));
      await s.saveSubscription('c1', sub('$share/g/b', 2));
      await s.saveSubscription('c1', sub('a/+', 0)); // replaces
      const [rec] = await s.loadSessions();
      assert.equal(rec?.clientId, 'c1');
      assert.equal(rec?.expiryInterval, 60);
      assert.deepEqual(rec?.subscriptions.map((x) => [x.filter, x.qos]).sort(), [
        ['$share/g/b', 2],
        ['a/+', 0],
      ]);
      assert.equal(rec?.subscriptions[0]?.subscriptionId, 7);
      await s.deleteSubscription('c1', 'a/+');
      assert.equal((await s.loadSessions())[0]?.subscriptions.length, 1);
      await s.saveSession({ clientId: 'c1', expiryInterval: 10, disconnectedAt: 1234, protocolVersion: 4 });
      const [again] = await s.loadSessions();
      assert.equal(again?.disconnectedAt, 1234);
      assert.equal(again?.subscriptions.length, 1, 'header update keeps subscriptions');
      await s.deleteSession('c1');
      assert.deepEqual(await s.loadSessions(), []);
    }));

  test(`${name}: a session keeps its last user name, none (null) or not known (absent)`, () =>
    withStore(async (s) => {
      const header = { expiryInterval: 60, disconnectedAt: 0, protocolVersion: 5 as const };
      await s.saveSession({ clientId: 'named', username: 'alice', ...header });
      await s.saveSession({ clientId: 'anonymous', username: null, ...header });
      await s.saveSession({ clientId: 'unknown', ...header });
      const byId = new Map((await s.loadSessions()).map((r) => [r.clientId, r]));
      assert.equal(byId.get('named')?.username, 'alice');
      assert.equal(byId.get('anonymous')?.username, null);
      assert.equal(byId.get('unknown')?.username, undefined);
      assert.equal('username' in byId.get('unknown')!, false);
      await s.saveSession({ clientId: 'named', username: 'bob', ...header });
      assert.equal((await s.loadSessions()).find((r) => r.clientId === 'named')?.username, 'bob');
    }));

  test(`${name}: outgoing messages keep order, state and properties`, () =>
    withStore(async (s) => {
      await s.saveSession({ clientId: 'c2', expiryInterval: 60, disconnectedAt: 0, protocolVersion: 5 });
      await s.saveOutgoing('c2', out(3, 'queued', 0));
      await s.saveOutgoing('c2', out(1, 'sent', 11));
      await s.saveOutgoing('c2', out(2, 'sent', 12));
      await s.saveOutgoing('c2', { ...out(2, 'pubrel', 12), qos: 2 }); // state change
      await s.deleteOutgoing('c2', 1);
      const list = await s.loadOutgoing('c2');
      assert.deepEqual(
        list.map((r) => [r.seq, r.state, r.packetId]),
        [
          [2, 'pubrel', 12],
          [3, 'queued', 0],
        ],
      );
      assert.equal(list[1]?.message.payload.toString(), 'm3');
      assert.equal(list[1]?.message.properties?.contentType, 'text/plain');
      assert.deepEqual(list[1]?.subscriptionIds, [7]);
      await s.deleteSession('c2');
      assert.deepEqual(await s.loadOutgoing('c2'), []);
    }));

  test(`${name}: one message queued for several sessions stays for the others when one acknowledges it`, () =>
    withStore(async (s) => {
      const m = msg('fan/1', 'shared');
      const clients = ['f1', 'f2', 'f3'];
      for (const c of clients) {
        await s.saveSession({ clientId: c, expiryInterval: 60, disconnectedAt: 0, protocolVersion: 4 });
      }
      // one routing: the same message object, each session with its own seq, state and QoS
      await Promise.all(
        clients.map((c, i) =>
          s.saveOutgoing(c, {
            seq: 5 + i,
            state: 'queued',
            packetId: 0,
            message: m,
            qos: 1,
            retain: false,
            subscriptionIds: [],
          }),
        ),
      );
      await s.saveOutgoing('f2', {
        seq: 6,
        state: 'sent',
        packetId: 40,
        message: m,
        qos: 1,
        retain: false,
        subscriptionIds: [3],
      });
      await s.deleteOutgoing('f1', 5);
      await s.deleteSession('f3');
      assert.deepEqual(await s.loadOutgoing('f1'), []);
      assert.deepEqual(await s.loadOutgoing('f3'), []);
      const [f2] = await s.loadOutgoing('f2');
      assert.deepEqual([f2?.seq, f2?.state, f2?.packetId, f2?.subscriptionIds], [6, 'sent', 40, [3]]);
      assert.equal(f2?.message.topic, 'fan/1');
      assert.equal(f2?.message.payload.toString(), 'shared');
      assert.equal(f2?.message.properties?.contentType, 'text/plain');
      await s.deleteOutgoing('f2', 6);
      assert.deepEqual(await s.loadOutgoing('f2'), []);
    }));

  test(`${name}: incoming QoS 2 packet ids are kept until released`, () =>
    withStore(async (s) => {
      await s.saveSession({ clientId: 'c3', expiryInterval: 60, disconnectedAt: 0, protocolVersion: 5 });
      await s.saveIncomingQoS2('c3', 5);
      await s.saveIncomingQoS2('c3', 9);
      await s.deleteIncomingQoS2('c3', 5);
      assert.deepEqual(await s.loadIncomingQoS2('c3'), [9]);
    }));

  test(`${name}: retained messages are set, replaced and deleted`, () =>
    withStore(async (s) => {
      await s.retained.set({ ...msg('r/1', 'one'), retain: true });
      await s.retained.set({ ...msg('r/2', 'two'), retain: true });
      await s.retained.set({ ...msg('r/1', 'uno'), retain: true });
      await s.retained.delete('r/2');
      const all = await s.retained.load();
      assert.deepEqual(
        all.map((m) => [m.topic, m.payload.toString()]),
        [['r/1', 'uno']],
      );
      assert.equal(all[0]?.properties?.userProperties?.a, '1');
    }));
}
