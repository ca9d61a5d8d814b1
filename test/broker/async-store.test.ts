/**
 * A store that answers asynchronously (as a durable one does): the broker must not acknowledge an
 * incoming QoS 1/2 message before the store has saved it, and must restore from a Promise-based load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySessionStore } from '../../src/broker/store/memory.ts';
import type { Message } from '../../src/broker/types.ts';
import type {
  OutgoingRecord,
  RetainedStore,
  SessionRecord,
  SessionStore,
  SubscriptionRecord,
} from '../../src/broker/store/types.ts';
import { runStoreSuite } from './store-suite.ts';
import { connected, newBroker } from './fakes.ts';
import { waitFor } from '../support/wait.ts';

/** Wraps the memory store; every call resolves later, and writes can be held back. */
class SlowStore implements SessionStore {
  readonly inner = new MemorySessionStore();
  gate: Promise<void> = Promise.resolve();
  /** Calls made and not answered yet. */
  pending = 0;
  private later<T>(fn: () => T): Promise<T> {
    this.pending++;
    return this.gate
      .then(() => new Promise((r) => setImmediate(r)))
      .then(fn)
      .finally(() => this.pending--);
  }
  readonly retained: RetainedStore = {
    set: (m: Message) => this.later(() => this.inner.retained.set(m)),
    delete: (t: string) => this.later(() => this.inner.retained.delete(t)),
    load: () => this.later(() => this.inner.retained.load()),
  };
  loadSessions(): Promise<SessionRecord[]> {
    return this.later(() => this.inner.loadSessions());
  }
  saveSession(rec: Omit<SessionRecord, 'subscriptions'>): Promise<void> {
    return this.later(() => this.inner.saveSession(rec));
  }
  deleteSession(id: string): Promise<void> {
    return this.later(() => this.inner.deleteSession(id));
  }
  saveSubscription(id: string, sub: SubscriptionRecord): Promise<void> {
    return this.later(() => this.inner.saveSubscription(id, sub));
  }
  deleteSubscription(id: string, filter: string): Promise<void> {
    return this.later(() => this.inner.deleteSubscription(id, filter));
  }
  saveOutgoing(id: string, rec: OutgoingRecord): Promise<void> {
    const copy = { ...rec };
    return this.later(() => this.inner.saveOutgoing(id, copy));
  }
  deleteOutgoing(id: string, seq: number): Promise<void> {
    return this.later(() => this.inner.deleteOutgoing(id, seq));
  }
  loadOutgoing(id: string): Promise<OutgoingRecord[]> {
    return this.later(() => this.inner.loadOutgoing(id));
  }
  saveIncomingQoS2(id: string, packetId: number): Promise<void> {
    return this.later(() => this.inner.saveIncomingQoS2(id, packetId));
  }
  deleteIncomingQoS2(id: string, packetId: number): Promise<void> {
    return this.later(() => this.inner.deleteIncomingQoS2(id, packetId));
  }
  loadIncomingQoS2(id: string): Promise<number[]> {
    return this.later(() => this.inner.loadIncomingQoS2(id));
  }
  close(): void {}
}

runStoreSuite('async wrapper', () => new SlowStore());

test('PUBACK waits until the message is saved for a persistent subscriber', async () => {
  const store = new SlowStore();
  const { broker } = newBroker({}, { store });
  await broker.ready;
  const sub = connected(broker, 'durable', { properties: { sessionExpiryInterval: 600 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'd', qos: 1 }] });
  sub.ch.handleTransportClosed();
  let open!: () => void;
  store.gate = new Promise((r) => (open = r));
  const pub = connected(broker, 'p');
  pub.ch.handlePacket({
    cmd: 'publish',
    topic: 'd',
    payload: Buffer.from('keep'),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 5,
  });
  // Barrier: the broker has asked the store to save; a PUBACK not waiting for it would be out already.
  await waitFor('a save', () => store.pending > 0);
  assert.equal(pub.out.packets.length, 0, 'no PUBACK while the store has not saved');
  open();
  await waitFor('the PUBACK', () => pub.out.packets.length > 0);
  assert.equal(pub.out.take()[0]?.cmd, 'puback');
  assert.equal(store.inner.loadOutgoing('durable')[0]?.message.payload.toString(), 'keep');
});

test('a broker restores sessions and retained messages from an asynchronous store', async () => {
  const store = new SlowStore();
  const { broker: b1 } = newBroker({}, { store });
  await b1.ready;
  const a = connected(b1, 'back', { properties: { sessionExpiryInterval: 600 } });
  a.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x', qos: 1 }] });
  a.ch.handleTransportClosed();
  b1.publish({ topic: 'x', payload: Buffer.from('queued'), qos: 1 });
  await waitFor('the store to be written', () => store.pending === 0);
  const { broker: b2 } = newBroker({}, { store });
  await b2.ready;
  const again = connected(b2, 'back', { clean: false, properties: { sessionExpiryInterval: 600 } });
  assert.equal((again.connack as { sessionPresent: boolean }).sessionPresent, true);
  assert.equal((again.out.take()[0] as { payload: Buffer }).payload.toString(), 'queued');
});
