import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { AccessCounters } from '../../src/access/counters.ts';
import { DedupWindow } from '../../src/access/dedup.ts';
import { BrokerToClientFlows } from '../../src/access/broker-to-client.ts';
import { Upstream } from '../../src/access/failover.ts';
import { ClientToBrokerFlows, type FlowSink } from '../../src/access/client-to-brokers.ts';
import { FakeClock } from './fake-clock.ts';

const B1 = Upstream.Broker1;
const B2 = Upstream.Broker2;

/** Records what the flows send, decoded, e.g. "b1 publish 1 q1 m0" or "client puback 10". */
class Sink implements FlowSink {
  readonly log: string[] = [];
  constructor(private readonly v5 = false) {}
  sendUpstream(u: Upstream, frame: Buffer): void {
    this.log.push(`${u === B1 ? 'b1' : 'b2'} ${this.describe(frame)}`);
  }
  sendClient(frame: Buffer): void {
    this.log.push(`client ${this.describe(frame)}`);
  }
  take(): string[] {
    return this.log.splice(0);
  }
  private describe(frame: Buffer): string {
    const parser = mqttPacket.parser({ protocolVersion: this.v5 ? 5 : 4 });
    let p: Packet | undefined;
    parser.on('packet', (x: Packet) => (p = x));
    parser.parse(Buffer.from(frame)); // a copy: the flows may rewrite the frame later
    if (p?.cmd === 'publish')
      return `publish ${p.messageId ?? '-'} q${p.qos} ${p.payload.toString()}${p.dup ? ' dup' : ''}`;
    return `${p?.cmd} ${p?.messageId}`;
  }
}

const publish = (id: number, qos: 0 | 1 | 2, payload: string, topic = 't') =>
  mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload: Buffer.from(payload),
    qos,
    messageId: qos ? id : undefined,
    dup: false,
    retain: false,
  });
const ack = (cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', id: number) =>
  mqttPacket.generate({ cmd, messageId: id });

test('uplink: QoS 1 is acknowledged to the client only after the broker’s PUBACK, ids mapped both ways', () => {
  const sink = new Sink();
  const up = new ClientToBrokerFlows(sink);
  up.setActive(B1);
  up.clientPublish(publish(10, 1, 'm0'));
  assert.deepEqual(sink.take(), ['b1 publish 1 q1 m0']);
  up.upstreamAck(B1, 4, ack('puback', 1));
  assert.deepEqual(sink.take(), ['client puback 10']);
  assert.equal(up.inflight, 0);
});

test('uplink: on failover every unacknowledged QoS 1/2 message goes to Broker2 in order, with new ids', () => {
  const sink = new Sink();
  const counters = new AccessCounters();
  const up = new ClientToBrokerFlows(sink, counters);
  up.setActive(B1);
  up.clientPublish(publish(10, 1, 'a'));
  up.clientPublish(publish(11, 2, 'b'));
  up.clientPublish(publish(12, 1, 'c'));
  up.upstreamAck(B1, 4, ack('puback', 1)); // 'a' done on Broker1
  sink.take();
  up.setActive(B2);
  up.upstreamLost(B1);
  assert.deepEqual(sink.take(), ['b2 publish 1 q2 b', 'b2 publish 2 q1 c']);
  assert.equal(counters.resent, 2);
  up.upstreamAck(B2, 4, ack('puback', 2));
  up.upstreamAck(B2, 5, ack('pubrec', 1));
  assert.deepEqual(sink.take(), ['client puback 12', 'client pubrec 11']);
  up.clientPubrel(ack('pubrel', 11));
  up.upstreamAck(B2, 7, ack('pubcomp', 1));
  assert.deepEqual(sink.take(), ['b2 pubrel 1', 'client pubcomp 11']);
  assert.deepEqual(counters.acknowledged, [1, 2]);
});

/** A QoS 2 message that Broker1 was sent PUBREL for (it may have delivered it), then Broker1 is lost. */
function releasedOnLostBroker1(): { sink: Sink; up: ClientToBrokerFlows } {
  const sink = new Sink();
  const up = new ClientToBrokerFlows(sink);
  up.setActive(B1);
  up.clientPublish(publish(7, 2, 'x'));
  up.upstreamAck(B1, 5, ack('pubrec', 1));
  up.clientPubrel(ack('pubrel', 7));
  assert.deepEqual(sink.take(), ['b1 publish 1 q2 x', 'client pubrec 7', 'b1 pubrel 1']);
  up.setActive(B2);
  up.upstreamLost(B1);
  assert.deepEqual(sink.take(), [], 'pinned to Broker1: sending it to Broker2 could deliver it twice');
  assert.equal(up.pinnedOn(B1), 1);
  return { sink, up };
}

test('uplink: QoS 2 released on a lost broker is finished there when it returns with the session (exactly once)', () => {
  const { sink, up } = releasedOnLostBroker1();
  up.upstreamBack(B1, true);
  assert.deepEqual(sink.take(), ['b1 pubrel 1'], 'PUBREL again [MQTT-4.4.0-1]');
  up.upstreamAck(B1, 7, ack('pubcomp', 1));
  assert.deepEqual(sink.take(), ['client pubcomp 7']);
  assert.equal(up.inflight, 0);
});

test('uplink: QoS 2 that a lost broker answered with PUBREC stays with it; the client’s PUBREL reaches it when it is back', () => {
  const sink = new Sink();
  const up = new ClientToBrokerFlows(sink);
  up.setActive(B1);
  up.clientPublish(publish(7, 2, 'x'));
  up.upstreamAck(B1, 5, ack('pubrec', 1));
  sink.take();
  up.setActive(B2);
  up.upstreamLost(B1);
  assert.deepEqual(sink.take(), [], 'Broker1 may have delivered it already (at PUBLISH)');
  assert.equal(up.pinnedOn(B1), 1);
  up.upstreamBack(B1, true);
  assert.deepEqual(sink.take(), [], 'not released before the client released it');
  up.clientPubrel(ack('pubrel', 7));
  up.upstreamAck(B1, 7, ack('pubcomp', 1));
  assert.deepEqual(sink.take(), ['b1 pubrel 1', 'client pubcomp 7']);
});

test('uplink: QoS 2 released on a broker that returns without the session (or too late) is completed on Broker2, PUBREC not repeated', () => {
  for (const back of [
    (up: ClientToBrokerFlows) => up.upstreamBack(B1, false),
    (up: ClientToBrokerFlows) => up.movePinned(B1),
  ]) {
    const { sink, up } = releasedOnLostBroker1();
    back(up);
    assert.deepEqual(sink.take(), ['b2 publish 1 q2 x']);
    up.upstreamAck(B2, 5, ack('pubrec', 1));
    assert.deepEqual(sink.take(), ['b2 pubrel 1'], 'the client already has its PUBREC');
    up.upstreamAck(B2, 7, ack('pubcomp', 1));
    assert.deepEqual(sink.take(), ['client pubcomp 7']);
  }
});

test('uplink: QoS 2 without PUBREC moves at once; its id stays reserved on the lost broker while it keeps the session', () => {
  const sink = new Sink();
  const up = new ClientToBrokerFlows(sink);
  up.setUpstreamLimit(B1, 1); // Broker1 takes one message at a time: a reserved id blocks the next
  up.setActive(B1);
  up.clientPublish(publish(7, 2, 'x'));
  sink.take(); // Broker1's PUBREC never came: it may or may not hold the message
  up.setActive(B2);
  up.upstreamLost(B1);
  assert.deepEqual(sink.take(), ['b2 publish 1 q2 x']);
  assert.equal(up.pinnedOn(B1), 0);
  up.upstreamBack(B1, true);
  up.upstreamAck(B1, 5, ack('pubrec', 1));
  assert.deepEqual(sink.take(), [], 'never released on Broker1');
  up.upstreamAck(B2, 5, ack('pubrec', 1));
  up.clientPubrel(ack('pubrel', 7));
  up.upstreamAck(B2, 7, ack('pubcomp', 1));
  assert.deepEqual(sink.take(), ['client pubrec 7', 'b2 pubrel 1', 'client pubcomp 7']);
  up.setActive(B1);
  up.clientPublish(publish(8, 2, 'y'));
  assert.deepEqual(sink.take(), [], 'id 1 is still taken on Broker1 [MQTT-4.3.3-9]');
  // Broker1 lost again and back without the session: the reserved id is free, y goes.
  up.setActive(B2);
  up.upstreamLost(B1);
  up.upstreamBack(B1, false);
  assert.deepEqual(sink.take(), ['b2 publish 2 q2 y']);
  up.setActive(B1);
  up.clientPublish(publish(9, 2, 'z'));
  assert.deepEqual(sink.take(), ['b1 publish 2 q2 z']);
});

test('uplink: with no broker up QoS 1/2 wait and QoS 0 is dropped; a client resend (DUP) is not sent twice', () => {
  const sink = new Sink();
  const counters = new AccessCounters();
  const up = new ClientToBrokerFlows(sink, counters);
  up.clientPublish(publish(1, 1, 'w'));
  up.clientPublish(publish(0, 0, 'q0'));
  up.clientPublish(publish(1, 1, 'w'));
  assert.deepEqual(sink.take(), []);
  assert.equal(counters.droppedQos0, 1);
  up.setActive(B2);
  assert.deepEqual(sink.take(), ['b2 publish 1 q1 w']);
});

test('uplink: a broker’s Receive Maximum holds further messages until an ack [MQTT-3.3.4-7]', () => {
  const sink = new Sink();
  const up = new ClientToBrokerFlows(sink);
  up.setUpstreamLimit(B1, 1);
  up.setActive(B1);
  up.clientPublish(publish(1, 1, 'a'));
  up.clientPublish(publish(2, 1, 'b'));
  assert.deepEqual(sink.take(), ['b1 publish 1 q1 a']);
  up.upstreamAck(B1, 4, ack('puback', 1));
  assert.deepEqual(sink.take(), ['client puback 1', 'b1 publish 2 q1 b']);
});

test('downlink: the same message from both brokers reaches the client once; the copy is acked by the module', () => {
  const sink = new Sink();
  const counters = new AccessCounters();
  const down = new BrokerToClientFlows(
    sink,
    new DedupWindow({ maxEntries: 64, windowMs: 5000 }, new FakeClock()),
    false,
    counters,
  );
  down.upstreamPublish(B1, publish(100, 1, 'v'));
  down.upstreamPublish(B2, publish(200, 1, 'v'));
  down.upstreamPublish(B2, publish(0, 0, 'z'));
  down.upstreamPublish(B1, publish(0, 0, 'z'));
  assert.deepEqual(sink.take(), ['client publish 1 q1 v', 'b2 puback 200', 'client publish - q0 z']);
  down.clientAck(4, ack('puback', 1));
  assert.deepEqual(sink.take(), ['b1 puback 100']);
  assert.equal(counters.duplicatesDropped, 2);
  assert.deepEqual(counters.delivered, [1, 1]);
});

test('downlink: QoS 2 from a broker, ids mapped through PUBREC/PUBREL/PUBCOMP; a dropped QoS 2 copy is completed', () => {
  const sink = new Sink();
  const down = new BrokerToClientFlows(
    sink,
    new DedupWindow({ maxEntries: 64, windowMs: 5000 }, new FakeClock()),
    false,
  );
  down.upstreamPublish(B2, publish(9, 2, 'q'));
  down.clientAck(5, ack('pubrec', 1));
  down.upstreamPubrel(B2, ack('pubrel', 9));
  down.clientAck(7, ack('pubcomp', 1));
  assert.deepEqual(sink.take(), ['client publish 1 q2 q', 'b2 pubrec 9', 'client pubrel 1', 'b2 pubcomp 9']);
  down.upstreamPublish(B1, publish(3, 2, 'q'));
  down.upstreamPubrel(B1, ack('pubrel', 3));
  assert.deepEqual(sink.take(), ['b1 pubrec 3', 'b1 pubcomp 3']);
  assert.equal(down.inflight, 0);
});

test('downlink: acks for a lost link are held; the broker’s resend after reconnect keeps the client id', () => {
  const sink = new Sink();
  const down = new BrokerToClientFlows(
    sink,
    new DedupWindow({ maxEntries: 64, windowMs: 5000 }, new FakeClock()),
    false,
  );
  down.upstreamPublish(B1, publish(4, 1, 'r'));
  down.upstreamLost(B1);
  down.upstreamSession(B1, true);
  down.upstreamPublish(B1, publish(4, 1, 'r'));
  assert.deepEqual(sink.take(), ['client publish 1 q1 r', 'client publish 1 q1 r dup']);
  down.clientAck(4, ack('puback', 1));
  assert.deepEqual(sink.take(), ['b1 puback 4']);
  down.upstreamPublish(B1, publish(5, 1, 's'));
  down.upstreamLost(B1);
  down.clientAck(4, ack('puback', 2));
  assert.deepEqual(sink.take(), ['client publish 2 q1 s'], 'no ack into a dead link');
});
