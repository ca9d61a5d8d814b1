/** Pure channel tests: no socket, fake clock, packets in → packets out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Packet } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { connected, newBroker, openChannel } from './fakes.ts';

const pub = (
  topic: string,
  qos: 0 | 1 | 2,
  messageId?: number,
  extra: Record<string, unknown> = {},
): Packet =>
  ({
    cmd: 'publish',
    topic,
    payload: Buffer.from('x'),
    qos,
    retain: false,
    dup: false,
    messageId,
    ...extra,
  }) as Packet;

test('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', () => {
  const { broker } = newBroker();
  const { ch, out } = openChannel(broker);
  ch.handlePacket({ cmd: 'pingreq' });
  assert.equal(out.ended, true);
  assert.equal(out.packets.length, 0);
});

test('[MQTT-3.1.0-2] a second CONNECT is a protocol error (v5 DISCONNECT 0x82)', () => {
  const { broker } = newBroker();
  const { ch, out } = connected(broker, 'c1');
  ch.handlePacket({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'c1',
    clean: true,
    keepalive: 0,
  });
  const [d] = out.take();
  assert.equal(d?.cmd, 'disconnect');
  assert.equal((d as { reasonCode: number }).reasonCode, ReasonCode.ProtocolError);
  assert.equal(out.ended, true);
});

test('[MQTT-3.1.2-24] keep alive: closed after 1.5 × keep alive without packets (0x8D)', () => {
  const { broker, clock } = newBroker();
  const { ch, out } = connected(broker, 'ka', { keepalive: 10 });
  clock.advance(14_000);
  ch.handlePacket({ cmd: 'pingreq' });
  assert.equal(out.take()[0]?.cmd, 'pingresp');
  clock.advance(14_000);
  assert.equal(out.ended, false, 'activity restarted the 15 s window');
  clock.advance(1_100);
  const [d] = out.take();
  assert.equal(d?.cmd, 'disconnect');
  assert.equal((d as { reasonCode: number }).reasonCode, ReasonCode.KeepAliveTimeout);
  assert.equal(out.ended, true);
});

test('[MQTT-3.2.2-21] server keep alive caps the client value and is announced in CONNACK', () => {
  const { broker } = newBroker({ maxKeepAlive: 60 });
  const { connack } = connected(broker, 'ska', { keepalive: 120 });
  assert.equal((connack as { properties?: { serverKeepAlive?: number } }).properties?.serverKeepAlive, 60);
  const { connack: c0 } = connected(broker, 'ska0', { keepalive: 0 });
  assert.equal((c0 as { properties?: { serverKeepAlive?: number } }).properties?.serverKeepAlive, 60);
  const { connack: c30 } = connected(broker, 'ska30', { keepalive: 30 });
  assert.equal((c30 as { properties?: { serverKeepAlive?: number } }).properties?.serverKeepAlive, undefined);
});

test('[MQTT-3.3.4-9] more unacknowledged QoS 2 PUBLISHes than Receive Maximum: DISCONNECT 0x93', () => {
  const { broker } = newBroker({ receiveMaximum: 3 });
  const { ch, out, connack } = connected(broker, 'rm');
  assert.equal((connack as { properties?: { receiveMaximum?: number } }).properties?.receiveMaximum, 3);
  for (let i = 1; i <= 3; i++) ch.handlePacket(pub('a', 2, i));
  assert.deepEqual(
    out.take().map((p) => p.cmd),
    ['pubrec', 'pubrec', 'pubrec'],
  );
  ch.handlePacket(pub('a', 2, 4));
  const [d] = out.take();
  assert.equal((d as { reasonCode: number }).reasonCode, ReasonCode.ReceiveMaximumExceeded);
});

test('[MQTT-4.3.3-9] a resent QoS 2 PUBLISH is acknowledged but delivered once; PUBREL → PUBCOMP', () => {
  const { broker } = newBroker();
  const sub = connected(broker, 'sub');
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2', qos: 2 }] });
  sub.out.take();
  const { ch, out } = connected(broker, 'pub');
  ch.handlePacket(pub('q2', 2, 7));
  ch.handlePacket(pub('q2', 2, 7, { dup: true }));
  assert.deepEqual(
    out.take().map((p) => p.cmd),
    ['pubrec', 'pubrec'],
  );
  assert.equal(sub.out.take().filter((p) => p.cmd === 'publish').length, 1);
  ch.handlePacket({ cmd: 'pubrel', messageId: 7 });
  const [comp] = out.take();
  assert.equal(comp?.cmd, 'pubcomp');
  assert.equal(comp?.messageId, 7);
});

test('[MQTT-3.3.2-10] inbound topic alias maps later PUBLISHes; alias 0 is 0x94', () => {
  const { broker } = newBroker({ topicAliasMaximum: 5 });
  const sub = connected(broker, 'sub');
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'al/#', qos: 0 }] });
  sub.out.take();
  const { ch, out } = connected(broker, 'pub');
  ch.handlePacket(pub('al/x', 0, undefined, { properties: { topicAlias: 2 } }));
  ch.handlePacket(pub('', 0, undefined, { properties: { topicAlias: 2 } }));
  const got = sub.out.take() as { topic: string }[];
  assert.deepEqual(
    got.map((p) => p.topic),
    ['al/x', 'al/x'],
  );
  ch.handlePacket(pub('al/y', 0, undefined, { properties: { topicAlias: 0 } }));
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.TopicAliasInvalid);
});

test('[MQTT-3.3.2-12] unknown inbound topic alias with an empty topic is a protocol error', () => {
  const { broker } = newBroker({ topicAliasMaximum: 5 });
  const { ch, out } = connected(broker, 'pub');
  ch.handlePacket(pub('', 0, undefined, { properties: { topicAlias: 3 } }));
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.ProtocolError);
});

test('[MQTT-3.3.2-2] a wildcard in a PUBLISH topic closes with 0x90', () => {
  const { broker } = newBroker();
  const { ch, out } = connected(broker, 'w');
  ch.handlePacket(pub('a/+', 0));
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.TopicNameInvalid);
});

test('[MQTT-3.3.4-6] a subscription identifier from a client is a protocol error', () => {
  const { broker } = newBroker();
  const { ch, out } = connected(broker, 'sid');
  ch.handlePacket(pub('a', 0, undefined, { properties: { subscriptionIdentifier: 3 } }));
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.ProtocolError);
});

test('[MQTT-3.1.2-25] messages larger than the client Maximum Packet Size are not sent to it', () => {
  const { broker } = newBroker();
  const sub = connected(broker, 'small', { properties: { maximumPacketSize: 40 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
  sub.out.take();
  broker.publish({ topic: 't', payload: Buffer.alloc(10), qos: 1 });
  broker.publish({ topic: 't', payload: Buffer.alloc(100), qos: 1 });
  broker.publish({ topic: 't', payload: Buffer.alloc(5), qos: 1 });
  const sizes = sub.out.take().map((p) => (p as { payload: Buffer }).payload.length);
  assert.deepEqual(sizes, [10, 5]);
});

test('[MQTT-3.3.4-9] flow control: no more than the client Receive Maximum QoS 1 messages in flight', () => {
  const { broker } = newBroker();
  const sub = connected(broker, 'fc', { properties: { receiveMaximum: 2 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
  sub.out.take();
  for (let i = 0; i < 5; i++) broker.publish({ topic: 't', payload: Buffer.from(String(i)), qos: 1 });
  let got = sub.out.take();
  assert.equal(got.length, 2);
  sub.ch.handlePacket({ cmd: 'puback', messageId: got[0]!.messageId });
  got = sub.out.take();
  assert.equal(got.length, 1);
  assert.equal((got[0] as { payload: Buffer }).payload.toString(), '2', 'order kept');
});

test('[MQTT-3.1.4-3] DISCONNECT 0x8E on session takeover; the new connection resumes the session', () => {
  const { broker } = newBroker();
  const first = connected(broker, 'same', { properties: { sessionExpiryInterval: 100 } });
  first.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
  first.out.take();
  const second = connected(broker, 'same', { clean: false, properties: { sessionExpiryInterval: 100 } });
  const [d] = first.out.take();
  assert.equal((d as { reasonCode: number }).reasonCode, ReasonCode.SessionTakenOver);
  assert.equal(first.out.ended, true);
  assert.equal((second.connack as { sessionPresent: boolean }).sessionPresent, true);
  broker.publish({ topic: 't', payload: Buffer.from('x'), qos: 1 });
  assert.equal(second.out.take()[0]?.cmd, 'publish');
});

test('[MQTT-3.1.3-9] will delay: the will is published after the delay, not if the client returns', () => {
  const { broker, clock } = newBroker();
  const watcher = connected(broker, 'watch');
  watcher.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/#', qos: 0 }] });
  watcher.out.take();
  const will = {
    topic: 'will/a',
    payload: Buffer.from('gone'),
    qos: 0,
    retain: false,
    properties: { willDelayInterval: 5 },
  };
  const a = connected(broker, 'a', { will, properties: { sessionExpiryInterval: 60 } });
  a.ch.handleTransportClosed();
  clock.advance(4_000);
  assert.equal(watcher.out.take().length, 0);
  clock.advance(1_100);
  assert.equal((watcher.out.take()[0] as { topic: string })?.topic, 'will/a');

  const b = connected(broker, 'b', {
    will: { ...will, topic: 'will/b' },
    properties: { sessionExpiryInterval: 60 },
  });
  b.ch.handleTransportClosed();
  clock.advance(2_000);
  connected(broker, 'b', { clean: false, properties: { sessionExpiryInterval: 60 } });
  clock.advance(10_000);
  assert.equal(watcher.out.take().length, 0, 'reconnect within the delay cancels the will');
});

test('[MQTT-3.1.2-8] will with session expiry shorter than the delay is sent when the session ends', () => {
  const { broker, clock } = newBroker();
  const watcher = connected(broker, 'watch');
  watcher.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'w', qos: 0 }] });
  watcher.out.take();
  const will = {
    topic: 'w',
    payload: Buffer.from('x'),
    qos: 0,
    retain: false,
    properties: { willDelayInterval: 50 },
  };
  const a = connected(broker, 'a', { will, properties: { sessionExpiryInterval: 2 } });
  a.ch.handleTransportClosed();
  clock.advance(1_900);
  assert.equal(watcher.out.take().length, 0);
  clock.advance(200);
  assert.equal(watcher.out.take().length, 1);
  assert.equal(broker.sessions.has('a'), false, 'session expired');
});

test('[MQTT-3.14.4-3] a normal DISCONNECT discards the will; 0x04 sends it', () => {
  const { broker } = newBroker();
  const watcher = connected(broker, 'watch');
  watcher.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'w', qos: 0 }] });
  watcher.out.take();
  const will = { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false };
  connected(broker, 'a', { will }).ch.handlePacket({ cmd: 'disconnect', reasonCode: 0 });
  assert.equal(watcher.out.take().length, 0);
  connected(broker, 'b', { will }).ch.handlePacket({ cmd: 'disconnect', reasonCode: 4 });
  assert.equal(watcher.out.take().length, 1);
});

test('[MQTT-3.14.2-2] DISCONNECT may not set a session expiry when CONNECT had 0', () => {
  const { broker } = newBroker();
  const { ch, out } = connected(broker, 'a');
  ch.handlePacket({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 10 } });
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.ProtocolError);
});

test('session expiry: the session is kept for the interval, then discarded', () => {
  const { broker, clock } = newBroker();
  const a = connected(broker, 'exp', { properties: { sessionExpiryInterval: 5 } });
  a.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
  a.ch.handlePacket({ cmd: 'disconnect', reasonCode: 0 });
  clock.advance(4_000);
  assert.equal(broker.sessions.has('exp'), true);
  broker.publish({ topic: 't', payload: Buffer.from('queued'), qos: 1 });
  const back = connected(broker, 'exp', { clean: false, properties: { sessionExpiryInterval: 5 } });
  assert.equal((back.connack as { sessionPresent: boolean }).sessionPresent, true);
  assert.equal((back.out.take()[0] as { payload: Buffer }).payload.toString(), 'queued');
  back.ch.handlePacket({ cmd: 'disconnect', reasonCode: 0 });
  clock.advance(5_001);
  assert.equal(broker.sessions.has('exp'), false);
});

test('[MQTT-4.4.0-1] unacknowledged QoS 1/2 messages are resent with DUP on reconnect; PUBREL is resent', () => {
  const { broker } = newBroker();
  const a = connected(broker, 'r', { clean: false, v: 4 });
  a.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 2 }] });
  a.out.take();
  broker.publish({ topic: 't', payload: Buffer.from('one'), qos: 1 });
  broker.publish({ topic: 't', payload: Buffer.from('two'), qos: 2 });
  const first = a.out.take();
  assert.equal(first.length, 2);
  a.ch.handlePacket({ cmd: 'pubrec', messageId: first[1]!.messageId });
  assert.equal(a.out.take()[0]?.cmd, 'pubrel');
  a.ch.handleTransportClosed();
  const b = connected(broker, 'r', { clean: false, v: 4 });
  const again = b.out.take() as { cmd: string; dup?: boolean; messageId?: number }[];
  assert.deepEqual(
    again.map((p) => [p.cmd, p.dup ?? false, p.messageId]),
    [
      ['publish', true, first[0]!.messageId],
      ['pubrel', false, first[1]!.messageId],
    ],
  );
});

test('AUTH flow: extended authentication exchanges AUTH 0x18 then CONNACK with the method', () => {
  const { broker } = newBroker(
    {},
    {
      hooks: {
        extendedAuth: (req, step) =>
          step === 0
            ? { done: false, authenticationData: Buffer.from('challenge') }
            : req.authenticationData?.toString() === 'answer'
              ? { done: true }
              : { reasonCode: ReasonCode.NotAuthorized },
      },
    },
  );
  const { ch, out } = openChannel(broker);
  ch.handlePacket({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'x',
    clean: true,
    keepalive: 0,
    properties: { authenticationMethod: 'demo' },
  });
  const [auth] = out.take() as {
    cmd: string;
    reasonCode: number;
    properties: { authenticationData: Buffer };
  }[];
  assert.equal(auth?.cmd, 'auth');
  assert.equal(auth?.reasonCode, ReasonCode.ContinueAuthentication);
  assert.equal(auth?.properties.authenticationData.toString(), 'challenge');
  ch.handlePacket({
    cmd: 'auth',
    reasonCode: ReasonCode.ContinueAuthentication,
    properties: { authenticationMethod: 'demo', authenticationData: Buffer.from('answer') },
  });
  const [connack] = out.take() as {
    cmd: string;
    reasonCode: number;
    properties: { authenticationMethod: string };
  }[];
  assert.equal(connack?.cmd, 'connack');
  assert.equal(connack?.reasonCode, 0);
  assert.equal(connack?.properties.authenticationMethod, 'demo');
});

test('[MQTT-4.12.0-1] CONNECT with an authentication method and no hook: CONNACK 0x8C', () => {
  const { broker } = newBroker();
  const { ch, out } = openChannel(broker);
  ch.handlePacket({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'x',
    clean: true,
    keepalive: 0,
    properties: { authenticationMethod: 'SCRAM' },
  });
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.BadAuthenticationMethod);
});

/** A subscriber to 'fc' at QoS 1 that takes one message at a time, and a publisher feeding it. */
function slowSubscriber(options: Parameters<typeof newBroker>[0]) {
  const { broker, clock } = newBroker(options);
  const sub = connected(broker, 'slow', { properties: { receiveMaximum: 1 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fc', qos: 1 }] });
  sub.out.take();
  return { broker, clock, sub, pubr: connected(broker, 'fast') };
}

test('flow control: a congested subscriber makes the broker withhold PUBACKs from its publisher, then release them in order', () => {
  const { broker, sub, pubr } = slowSubscriber({ maxQueuedMessages: 4 });
  for (let i = 1; i <= 4; i++) pubr.ch.handlePacket(pub('fc', 1, i));
  // 1 in flight, 3 queued (high water 2): acks for messages 3 and 4 are withheld
  assert.deepEqual(
    pubr.out.take().map((p) => p.messageId),
    [1, 2],
  );
  let inflight = sub.out.take();
  for (let round = 0; round < 3; round++) {
    sub.ch.handlePacket({ cmd: 'puback', messageId: inflight[0]!.messageId });
    inflight = sub.out.take();
  }
  assert.deepEqual(
    pubr.out.take().map((p) => [p.cmd, p.messageId]),
    [
      ['puback', 3],
      ['puback', 4],
    ],
  );
  assert.equal(broker.stats.publishDropped, 0);
});

test('flow control is bounded: a subscriber that stays stuck frees its publishers after slowSubscriberHoldMs, then drops past its queue', () => {
  const { broker, clock, sub, pubr } = slowSubscriber({ maxQueuedMessages: 8, slowSubscriberHoldMs: 5000 });
  for (let i = 1; i <= 6; i++) pubr.ch.handlePacket(pub('fc', 1, i));
  // 1 in flight, queue past its high-water mark (4) from message 5: acks from there on are withheld
  assert.deepEqual(
    pubr.out.take().map((p) => p.messageId),
    [1, 2, 3, 4],
  );
  clock.advance(4999);
  assert.deepEqual(pubr.out.take(), [], 'still held just before the limit');
  clock.advance(1);
  assert.deepEqual(
    pubr.out.take().map((p) => [p.cmd, p.messageId]),
    [
      ['puback', 5],
      ['puback', 6],
    ],
  );
  // No longer held: acked at once; the stuck queue fills to maxQueuedMessages, then drops, and the
  // v5 publisher of a message no subscriber could take is told: PUBACK 0x97 Quota exceeded.
  for (let i = 7; i <= 12; i++) pubr.ch.handlePacket(pub('fc', 1, i));
  assert.deepEqual(
    pubr.out.take().map((p) => [p.messageId, (p as { reasonCode?: number }).reasonCode ?? 0]),
    [
      [7, 0],
      [8, 0],
      [9, 0],
      [10, ReasonCode.QuotaExceeded],
      [11, ReasonCode.QuotaExceeded],
      [12, ReasonCode.QuotaExceeded],
    ],
  );
  assert.equal(broker.stats.publishDropped, 3); // 1 in flight + 8 queued kept out of 12
  // The subscriber recovers: once its queue drains, flow control holds publishers again.
  let inflight = sub.out.take();
  for (let round = 0; round < 9; round++) {
    assert.equal(inflight.length, 1, `round ${round}`);
    sub.ch.handlePacket({ cmd: 'puback', messageId: inflight[0]!.messageId });
    inflight = sub.out.take();
  }
  for (let i = 13; i <= 18; i++) pubr.ch.handlePacket(pub('fc', 1, i));
  assert.deepEqual(
    pubr.out.take().map((p) => p.messageId),
    [13, 14, 15, 16],
  );
});

test('slowSubscriberHoldMs 0 holds publishers as long as the subscriber stays congested', () => {
  const { broker, clock, pubr } = slowSubscriber({ maxQueuedMessages: 4, slowSubscriberHoldMs: 0 });
  for (let i = 1; i <= 4; i++) pubr.ch.handlePacket(pub('fc', 1, i));
  assert.deepEqual(
    pubr.out.take().map((p) => p.messageId),
    [1, 2],
  );
  clock.advance(3_600_000);
  assert.deepEqual(pubr.out.take(), []);
  assert.equal(broker.stats.publishDropped, 0);
});

test('[MQTT-3.1.2-25] an outbound topic alias is not assigned by a message too large to send', () => {
  const { broker } = newBroker();
  const sub = connected(broker, 'al', { properties: { maximumPacketSize: 60, topicAliasMaximum: 4 } });
  sub.ch.handlePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'big/t', qos: 0 }] });
  sub.out.take();
  broker.publish({ topic: 'big/t', payload: Buffer.alloc(100) });
  broker.publish({ topic: 'big/t', payload: Buffer.alloc(4) });
  broker.publish({ topic: 'big/t', payload: Buffer.alloc(4) });
  const got = sub.out.take() as { topic: string; properties?: { topicAlias?: number } }[];
  assert.deepEqual(
    got.map((p) => [p.topic, p.properties?.topicAlias]),
    [
      ['big/t', 1],
      ['', 1],
    ],
  );
});

test('the will obeys authorizePublish: a will on a forbidden topic refuses the CONNECT (0x87)', () => {
  const { broker } = newBroker(
    {},
    { hooks: { authorizePublish: (_c, topic) => !topic.startsWith('other/') } },
  );
  const { ch, out } = openChannel(broker);
  ch.handlePacket({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'sneaky',
    clean: true,
    keepalive: 0,
    will: { topic: 'other/gw', payload: Buffer.from('x'), qos: 0, retain: false },
  });
  assert.equal((out.take()[0] as { reasonCode: number }).reasonCode, ReasonCode.NotAuthorized);
});

test('v5 DISCONNECT for a protocol error carries a reason string unless problem information is off', () => {
  const { broker } = newBroker();
  const a = connected(broker, 'why');
  a.ch.handlePacket(pub('a/#', 0));
  assert.match(
    (a.out.take()[0] as { properties?: { reasonString?: string } }).properties?.reasonString ?? '',
    /topic/,
  );
  const b = connected(broker, 'quiet', { properties: { requestProblemInformation: false } });
  b.ch.handlePacket(pub('a/#', 0));
  assert.equal((b.out.take()[0] as { properties?: object }).properties, undefined);
});
