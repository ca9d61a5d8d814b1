import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Packet } from 'mqtt-packet';
import { Upstream } from '../../src/access/failover.ts';
import { SubscriptionSync, type SubscriptionPort } from '../../src/access/subscriptions.ts';
import { FakeClock } from './fake-clock.ts';

class Port implements SubscriptionPort {
  up: [boolean, boolean] = [true, true];
  readonly upstream: [Packet[], Packet[]] = [[], []];
  readonly client: Packet[] = [];
  isUp(u: Upstream): boolean {
    return this.up[u];
  }
  sendUpstream(u: Upstream, packet: Packet): void {
    this.upstream[u].push(packet);
  }
  sendClient(packet: Packet): void {
    this.client.push(packet);
  }
}

const options = { mergeWaitMs: 500, timeoutMs: 5000, sysTopics: true };

test('subscriptions: SUBSCRIBE to both, one SUBACK merged from both; $SYS/access filters stay local', () => {
  const port = new Port();
  const sync = new SubscriptionSync(port, new FakeClock(), options);
  const local = sync.subscribe({
    cmd: 'subscribe',
    messageId: 7,
    subscriptions: [
      { topic: 'a/#', qos: 2 },
      { topic: '$SYS/access/#', qos: 1 },
      { topic: 'b', qos: 1 },
    ],
  });
  assert.deepEqual(local, ['$SYS/access/#']);
  const sent = port.upstream[0][0] as Packet & { messageId: number; subscriptions: { topic: string }[] };
  assert.deepEqual(
    sent.subscriptions.map((s) => s.topic),
    ['a/#', 'b'],
  );
  assert.deepEqual(port.upstream[1][0], sent, 'the same SUBSCRIBE to Broker2');
  assert.equal(port.client.length, 0, 'no answer before the brokers answer');
  sync.onReply(Upstream.Broker1, { cmd: 'suback', messageId: sent.messageId, granted: [1, 0x80] });
  sync.onReply(Upstream.Broker2, { cmd: 'suback', messageId: sent.messageId, granted: [2, 0x87] });
  assert.deepEqual(port.client, [{ cmd: 'suback', messageId: 7, granted: [2, 0, 0x80] }]);
});

test('subscriptions: a broker that was down gets the subscriptions (and missed unsubscribes) when it returns', () => {
  const port = new Port();
  const clock = new FakeClock();
  const sync = new SubscriptionSync(port, clock, options);
  sync.subscribe({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'x', qos: 1 },
      { topic: 'y', qos: 0 },
    ],
  });
  const id = (port.upstream[0][0] as { messageId: number }).messageId;
  port.up[1] = false;
  sync.upstreamLost(Upstream.Broker2);
  sync.onReply(Upstream.Broker1, { cmd: 'suback', messageId: id, granted: [1, 0] });
  assert.deepEqual(port.client.pop(), { cmd: 'suback', messageId: 1, granted: [1, 0] });
  sync.unsubscribe({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['y'] });
  const unsubId = (port.upstream[0][1] as { messageId: number }).messageId;
  sync.onReply(Upstream.Broker1, { cmd: 'unsuback', messageId: unsubId, granted: [] });
  assert.deepEqual(port.client.pop(), { cmd: 'unsuback', messageId: 2, granted: [] });
  port.upstream[1].length = 0;
  port.up[1] = true;
  sync.resync(Upstream.Broker2, true);
  const resent = port.upstream[1].map((p) =>
    JSON.stringify('subscriptions' in p ? p.subscriptions : p.cmd === 'unsubscribe' ? p.unsubscriptions : []),
  );
  assert.deepEqual(resent, ['[{"topic":"x","qos":1}]', '["y"]']);
  port.upstream[1].length = 0;
  sync.resync(Upstream.Broker2, true);
  assert.equal(port.upstream[1].length, 0, 'in sync: nothing to send');
  sync.resync(Upstream.Broker2, false);
  assert.equal(port.upstream[1].length, 1, 'a broker without session gets all subscriptions again');
});

test('subscriptions: no broker up → granted as requested at once; one broker’s answer alone waits for the other', () => {
  const port = new Port();
  port.up = [false, false];
  const clock = new FakeClock();
  const sync = new SubscriptionSync(port, clock, options);
  sync.subscribe({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'z', qos: 2 }] });
  assert.deepEqual(port.client.pop(), { cmd: 'suback', messageId: 3, granted: [2] });
  port.up = [true, true];
  sync.v5 = true;
  sync.unsubscribe({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['z', 'nope'] });
  const id = (port.upstream[0][0] as { messageId: number }).messageId;
  sync.onReply(Upstream.Broker2, { cmd: 'unsuback', messageId: id, granted: [0, 0x11] });
  assert.equal(port.client.length, 0);
  sync.close(); // the timer for Broker1's answer is cleared; with a fake clock we check the merge directly
});
