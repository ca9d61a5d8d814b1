/** MQTT 3.1.1 (and 3.1) with real MQTT.js clients over a loopback TCP listener. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect, pingBarrier, subackCodes } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

let tb: TestBroker;
before(async () => {
  tb = await startBroker({ denySubscribe: ['test/nosubscribe'] });
});
after(() => tb.close());

test('[MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1] QoS 0, 1 and 2 publish/subscribe round trip', async () => {
  const c = await tb.connect({ protocolVersion: 4, clientId: 'v4-rt' });
  const msgs = collect(c);
  const granted = await c.subscribeAsync('rt/#', { qos: 2 });
  assert.equal(granted[0]?.qos, 2);
  for (const qos of [0, 1, 2] as const) await c.publishAsync('rt/x', `q${qos}`, { qos });
  await waitFor('msgs.length === 3', () => msgs.length === 3);
  assert.deepEqual(msgs.map((m) => [m.payload, m.packet.qos]).sort(), [
    ['q0', 0],
    ['q1', 1],
    ['q2', 2],
  ]);
});

test('[MQTT-3.8.4-6] delivery QoS is the minimum of publish and granted QoS', async () => {
  const sub = await tb.connect({ protocolVersion: 4, clientId: 'v4-min' });
  const msgs = collect(sub);
  await sub.subscribeAsync('min/t', { qos: 1 });
  const pub = await tb.connect({ protocolVersion: 4, clientId: 'v4-min-pub' });
  await pub.publishAsync('min/t', 'x', { qos: 2 });
  await waitFor('msgs.length === 1', () => msgs.length === 1);
  assert.equal(msgs[0]?.packet.qos, 1);
});

test('[MQTT-3.3.1-5] [MQTT-3.3.1-8] [MQTT-3.3.1-10] retained: set, replace, delivered on subscribe, cleared by empty payload', async () => {
  const pub = await tb.connect({ protocolVersion: 4, clientId: 'v4-ret-pub' });
  await pub.publishAsync('ret/a', 'one', { qos: 1, retain: true });
  await pub.publishAsync('ret/a', 'two', { qos: 1, retain: true });
  await pub.publishAsync('ret/b', 'bee', { qos: 0, retain: true });
  await pingBarrier(pub); // the QoS 0 retained message has been handled
  const s1 = await tb.connect({ protocolVersion: 4, clientId: 'v4-ret-s1' });
  const m1 = collect(s1);
  await s1.subscribeAsync('ret/+', { qos: 1 });
  await waitFor('m1.length === 2', () => m1.length === 2);
  assert.deepEqual(m1.map((m) => [m.topic, m.payload, m.packet.retain]).sort(), [
    ['ret/a', 'two', true],
    ['ret/b', 'bee', true],
  ]);
  // [MQTT-3.3.1-9] a live message to an existing subscription has retain 0
  await pub.publishAsync('ret/a', 'three', { qos: 1, retain: true });
  await waitFor('m1.length === 3', () => m1.length === 3);
  assert.equal(m1[2]?.packet.retain, false);
  await pub.publishAsync('ret/a', '', { qos: 1, retain: true });
  await pub.publishAsync('ret/b', '', { qos: 1, retain: true });
  const s2 = await tb.connect({ protocolVersion: 4, clientId: 'v4-ret-s2' });
  const m2 = collect(s2);
  await s2.subscribeAsync('ret/+', { qos: 1 });
  await pingBarrier(s2); // retained messages go out with the SUBACK, before the PINGRESP
  assert.equal(m2.length, 0);
});

test('[MQTT-4.7.2-1] $ topics are not matched by # or +', async () => {
  const s = await tb.connect({ protocolVersion: 4, clientId: 'v4-dollar' });
  const msgs = collect(s);
  await s.subscribeAsync(['#', '+/x'], { qos: 0 });
  await s.subscribeAsync('$app/x', { qos: 0 });
  const pub = await tb.connect({ protocolVersion: 4, clientId: 'v4-dollar-pub' });
  await pub.publishAsync('$app/x', 'hidden', { qos: 1 });
  await waitFor('$app/x', () => msgs.some((m) => m.topic === '$app/x'));
  await pingBarrier(s); // a second copy would have been routed with the first
  assert.equal(msgs.filter((m) => m.topic === '$app/x').length, 1, 'only the explicit $app/x subscription');
});

test('[MQTT-3.3.5-1] overlapping subscriptions: one delivery at the highest QoS', async () => {
  const s = await tb.connect({ protocolVersion: 4, clientId: 'v4-overlap' });
  const msgs = collect(s);
  await s.subscribeAsync({ 'ov/#': { qos: 2 }, 'ov/+': { qos: 1 } });
  await s.publishAsync('ov/x', 'o', { qos: 2 });
  await waitFor('the message', () => msgs.length >= 1);
  await pingBarrier(s); // a second copy would have been routed with the first
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]?.packet.qos, 2);
});

test('[MQTT-3.9.3-2] SUBACK 0x80 for a refused filter (denySubscribe)', async () => {
  const s = await tb.connect({ protocolVersion: 4, clientId: 'v4-deny' });
  assert.deepEqual(await subackCodes(s, ['test/nosubscribe', 'ok/x'], 1), [128, 1]);
});

test('[MQTT-3.2.2-2] session present after reconnect with clean session 0; offline QoS 1 messages delivered', async () => {
  const a = await tb.connect({ protocolVersion: 4, clientId: 'v4-persist', clean: false });
  await a.subscribeAsync('off/#', { qos: 1 });
  await a.endAsync();
  const pub = await tb.connect({ protocolVersion: 4, clientId: 'v4-persist-pub' });
  await pub.publishAsync('off/1', 'while offline', { qos: 1 });
  await pub.publishAsync('off/2', 'qos0 dropped', { qos: 0 });
  let present: boolean | undefined;
  let msgs: ReturnType<typeof collect> = [];
  const back = await tb.connect({ protocolVersion: 4, clientId: 'v4-persist', clean: false }, (c) => {
    c.on('connect', (p) => (present = p.sessionPresent));
    msgs = collect(c);
  });
  await waitFor('the queued message', () => msgs.length === 1);
  await pingBarrier(back); // the whole stored queue goes out right after the CONNACK
  assert.equal(present, true);
  assert.deepEqual(
    msgs.map((m) => m.payload),
    ['while offline'],
  );
});

test('[MQTT-3.1.2-8] will published when the client vanishes; [MQTT-3.1.2-10] not after DISCONNECT', async () => {
  const watcher = await tb.connect({ protocolVersion: 4, clientId: 'v4-will-w' });
  const msgs = collect(watcher);
  await watcher.subscribeAsync('will/#', { qos: 1 });
  const gone = await tb.connect({
    protocolVersion: 4,
    clientId: 'v4-will-a',
    will: { topic: 'will/a', payload: Buffer.from('bye'), qos: 1, retain: false },
  });
  gone.stream.destroy();
  await waitFor('msgs.length === 1', () => msgs.length === 1);
  assert.equal(msgs[0]?.payload, 'bye');
  const connected = tb.broker.stats.clientsConnected;
  const polite = await tb.connect({
    protocolVersion: 4,
    clientId: 'v4-will-b',
    will: { topic: 'will/b', payload: Buffer.from('never'), qos: 1, retain: false },
  });
  await polite.endAsync();
  // Barrier: the broker has dropped the polite client (and so decided about its will), then every
  // message it routed to the watcher before has reached it.
  await waitFor('v4-will-b gone', () => tb.broker.stats.clientsConnected === connected);
  await pingBarrier(watcher);
  assert.equal(msgs.length, 1);
});

test('[MQTT-3.1.4-2] a second connection with the same client id takes the session over', async () => {
  const first = await tb.connect({ protocolVersion: 4, clientId: 'v4-dup' });
  let closed = false;
  first.on('close', () => (closed = true));
  await tb.connect({ protocolVersion: 4, clientId: 'v4-dup' });
  await waitFor('closed', () => closed);
});

test('[MQTT-3.10.4-1] unsubscribe stops delivery', async () => {
  const s = await tb.connect({ protocolVersion: 4, clientId: 'v4-unsub' });
  const msgs = collect(s);
  await s.subscribeAsync(['un/a', 'un/b'], { qos: 1 });
  await s.unsubscribeAsync('un/a');
  await s.publishAsync('un/a', 'a', { qos: 1 });
  await s.publishAsync('un/b', 'b', { qos: 1 });
  // One connection delivers in order: un/a, had it been routed, would have arrived before un/b.
  await waitFor('un/b', () => msgs.length === 1);
  assert.deepEqual(
    msgs.map((m) => m.topic),
    ['un/b'],
  );
});

test('MQTT 3.1 (MQIsdp, protocol level 3) clients connect and exchange messages', async () => {
  const c = await tb.connect({ protocolVersion: 3, protocolId: 'MQIsdp', clientId: 'v3-client' });
  const msgs = collect(c);
  await c.subscribeAsync('v3/t', { qos: 1 });
  await c.publishAsync('v3/t', 'old', { qos: 1 });
  await waitFor('msgs.length === 1', () => msgs.length === 1);
  assert.equal(msgs[0]?.payload, 'old');
});

test('stats count clients, messages and bytes', () => {
  const s = tb.broker.stats;
  assert.ok(s.clientsConnected > 0);
  assert.ok(s.messagesReceived > 0 && s.messagesSent > 0);
  assert.ok(s.bytesReceived > 0 && s.bytesSent > 0);
  assert.ok(s.subscriptions > 0);
});

test('shared subscriptions work for 3.1.1 clients too', async () => {
  const a = await tb.connect({ protocolVersion: 4, clientId: 'v4-sh-a' });
  const b = await tb.connect({ protocolVersion: 4, clientId: 'v4-sh-b' });
  const ma = collect(a);
  const mb = collect(b);
  await a.subscribeAsync('$share/w/jobs', { qos: 1 });
  await b.subscribeAsync('$share/w/jobs', { qos: 1 });
  for (let i = 0; i < 6; i++) tb.broker.publish({ topic: 'jobs', payload: Buffer.from(String(i)), qos: 1 });
  await waitFor('six jobs', () => ma.length + mb.length === 6);
  await pingBarrier(a, b); // a duplicate would have been routed in the same publish
  assert.equal(ma.length + mb.length, 6);
  assert.ok(ma.length > 0 && mb.length > 0);
});
