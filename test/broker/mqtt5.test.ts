/** MQTT 5.0 features with real MQTT.js v5 clients over a loopback TCP listener. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket } from 'mqtt';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect, pingBarrier, subackCodes } from '../support/mqtt.ts';
import { FakeClock } from './fakes.ts';
import { waitFor } from '../support/wait.ts';

let tb: TestBroker;
before(async () => {
  tb = await startBroker(
    { maxKeepAlive: 60, topicAliasMaximum: 10, denySubscribe: ['test/nosubscribe'] },
    {
      hooks: {
        authenticate: (req) =>
          req.username === 'bad'
            ? { reasonCode: ReasonCode.BadUserNameOrPassword, reasonString: 'no' }
            : true,
        authorizeSubscribe: (_c, filter) => (filter.startsWith('secret/') ? false : true),
        authorizePublish: (_c, topic) => !topic.startsWith('readonly/'),
      },
    },
  );
});
after(() => tb.close());

const v5 = { protocolVersion: 5 as const };

test('CONNACK announces limits; [MQTT-3.1.3-6] assigned client identifier', async () => {
  let connack: IConnackPacket | undefined;
  await tb.connect({ ...v5, clientId: '', keepalive: 120 }, (c) => c.on('connect', (p) => (connack = p)));
  assert.equal(connack?.properties?.serverKeepAlive, 60);
  assert.equal(connack?.properties?.topicAliasMaximum, 10);
  assert.match(connack?.properties?.assignedClientIdentifier ?? '', /^mqiot-/);
});

test('authenticate hook refuses with its v5 reason code', async () => {
  await assert.rejects(
    tb.connect({ ...v5, clientId: 'bad-user', username: 'bad', password: Buffer.from('x') }),
    /Bad User Name|134/,
  );
});

test('[MQTT-3.3.4-4] one delivery carries all matching subscription identifiers', async () => {
  const c = await tb.connect({ ...v5, clientId: 'subids' });
  const msgs = collect(c);
  await c.subscribeAsync('sid/a', { qos: 1, properties: { subscriptionIdentifier: 2 } });
  await c.subscribeAsync('sid/#', { qos: 2, properties: { subscriptionIdentifier: 3 } });
  await c.publishAsync('sid/a', 'x', { qos: 2 });
  await waitFor('the message', () => msgs.length >= 1);
  await pingBarrier(c); // a second copy would have been routed with the first
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]?.packet.qos, 2);
  const ids = msgs[0]?.packet.properties?.subscriptionIdentifier;
  assert.deepEqual([ids].flat().sort(), [2, 3]);
});

test('[MQTT-3.8.3-3] no local: own messages are not delivered back', async () => {
  const a = await tb.connect({ ...v5, clientId: 'nl-a' });
  const b = await tb.connect({ ...v5, clientId: 'nl-b' });
  const ma = collect(a);
  const mb = collect(b);
  await a.subscribeAsync('nl/t', { qos: 1, nl: true });
  await b.subscribeAsync('nl/t', { qos: 1, nl: true });
  await a.publishAsync('nl/t', 'from a', { qos: 1 });
  await waitFor('b to get the message', () => mb.length === 1);
  await pingBarrier(a); // a copy for a would have been routed with b's
  assert.equal(ma.length, 0);
});

test('[MQTT-3.3.1-12] retain as published; [MQTT-3.3.1-9..11] retain handling 0, 1, 2', async () => {
  const c = await tb.connect({ ...v5, clientId: 'rap' });
  const msgs = collect(c);
  await c.subscribeAsync('rap/t', { qos: 1, rap: true });
  await c.publishAsync('rap/t', 'no', { qos: 1, retain: false });
  await c.publishAsync('rap/t', 'yes', { qos: 1, retain: true });
  await waitFor('msgs.length === 2', () => msgs.length === 2);
  assert.deepEqual(
    msgs.map((m) => m.packet.retain),
    [false, true],
  );
  const h = await tb.connect({ ...v5, clientId: 'rh' });
  const hm = collect(h);
  await h.subscribeAsync('rap/t', { qos: 1, rh: 1 });
  await waitFor('hm.length === 1', () => hm.length === 1);
  await h.subscribeAsync('rap/t', { qos: 1, rh: 1 });
  await h.subscribeAsync('rap/+', { qos: 1, rh: 2 });
  await pingBarrier(h); // retained messages go out with the SUBACK, before the PINGRESP
  assert.equal(hm.length, 1, 'rh 1 only for a new subscription, rh 2 never');
  await h.subscribeAsync('rap/t', { qos: 1, rh: 0 });
  await waitFor('hm.length === 2', () => hm.length === 2);
  await c.publishAsync('rap/t', '', { qos: 1, retain: true });
});

test('shared subscriptions: each message goes to one member of the group', async () => {
  const a = await tb.connect({ ...v5, clientId: 'sh-a' });
  const b = await tb.connect({ ...v5, clientId: 'sh-b' });
  const ma = collect(a);
  const mb = collect(b);
  await a.subscribeAsync('$share/g/sh/#', { qos: 1 });
  await b.subscribeAsync('$share/g/sh/#', { qos: 1 });
  const p = await tb.connect({ ...v5, clientId: 'sh-p' });
  for (let i = 0; i < 10; i++) await p.publishAsync('sh/x', String(i), { qos: 1 });
  await waitFor('ten messages', () => ma.length + mb.length === 10);
  await pingBarrier(a, b); // a duplicate would have been routed in the same publish
  assert.equal(ma.length + mb.length, 10);
  assert.ok(ma.length > 0 && mb.length > 0, 'both members get a share');
});

test('SUBACK reason codes: 0x80 denySubscribe, 0x87 authorizeSubscribe refusal', async () => {
  const c = await tb.connect({ ...v5, clientId: 'suback' });
  assert.deepEqual(await subackCodes(c, ['test/nosubscribe', 'secret/x', 'ok/#'], 1), [0x80, 0x87, 1]);
});

test('authorizePublish refusal answers PUBACK 0x87 and drops the message', async () => {
  const c = await tb.connect({ ...v5, clientId: 'ro' });
  const msgs = collect(c);
  await c.subscribeAsync('readonly/#', { qos: 1 });
  const codes: number[] = [];
  c.on('packetreceive', (p) => {
    if (p.cmd === 'puback') codes.push((p as { reasonCode?: number }).reasonCode ?? 0);
  });
  await c.publishAsync('readonly/x', 'no', { qos: 1 }).catch(() => undefined);
  await waitFor('codes.length === 1', () => codes.length === 1);
  assert.equal(codes[0], ReasonCode.NotAuthorized);
  await pingBarrier(c); // the refused message would have been routed before the PUBACK
  assert.equal(msgs.length, 0);
});

test('properties pass through: user properties, content type, payload format, response topic, correlation data', async () => {
  const c = await tb.connect({ ...v5, clientId: 'props' });
  const msgs = collect(c);
  await c.subscribeAsync('props/t', { qos: 1 });
  const properties = {
    userProperties: { a: '1', b: ['2', '3'] },
    contentType: 'application/json',
    payloadFormatIndicator: true,
    responseTopic: 'props/reply',
    correlationData: Buffer.from('corr'),
  };
  await c.publishAsync('props/t', '{}', { qos: 1, properties });
  await waitFor('msgs.length === 1', () => msgs.length === 1);
  const got = msgs[0]!.packet.properties!;
  assert.deepEqual({ ...got.userProperties }, properties.userProperties);
  assert.equal(got.contentType, 'application/json');
  assert.equal(got.payloadFormatIndicator, true);
  assert.equal(got.responseTopic, 'props/reply');
  assert.equal(got.correlationData?.toString(), 'corr');
});

test('[MQTT-3.3.2-6] message expiry: the remaining interval is sent; expired messages are not', async (t) => {
  // A broker of its own on a manual clock: the messages age 1.2 s without the test waiting for it.
  const clock = new FakeClock();
  const eb = await startBroker({}, { clock });
  t.after(() => eb.close());
  const a = await eb.connect({
    ...v5,
    clientId: 'exp-sub',
    clean: true,
    properties: { sessionExpiryInterval: 60 },
  });
  await a.subscribeAsync('exp/t', { qos: 1 });
  await a.endAsync();
  const p = await eb.connect({ ...v5, clientId: 'exp-pub' });
  await p.publishAsync('exp/t', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await p.publishAsync('exp/t', 'long', { qos: 1, properties: { messageExpiryInterval: 30 } });
  clock.advance(1_200);
  let msgs: ReturnType<typeof collect> = [];
  const back = await eb.connect(
    { ...v5, clientId: 'exp-sub', clean: false, properties: { sessionExpiryInterval: 60 } },
    (c) => {
      msgs = collect(c);
    },
  );
  await waitFor('the queued message', () => msgs.length >= 1);
  await pingBarrier(back); // the whole stored queue goes out right after the CONNACK
  assert.deepEqual(
    msgs.map((m) => m.payload),
    ['long'],
  );
  const left = msgs[0]!.packet.properties?.messageExpiryInterval ?? 0;
  assert.ok(left > 0 && left < 30, `remaining expiry ${left}`);
});

test('[MQTT-3.3.2-11] outbound topic aliases when the client allows them', async () => {
  const c = await tb.connect({ ...v5, clientId: 'alias-out', properties: { topicAliasMaximum: 2 } });
  const raw: { topic: string; alias?: number }[] = [];
  c.on('packetreceive', (p) => {
    if (p.cmd === 'publish') raw.push({ topic: p.topic, alias: p.properties?.topicAlias });
  });
  await c.subscribeAsync('ao/#', { qos: 0 });
  for (let i = 0; i < 3; i++) await c.publishAsync('ao/x', 'x', { qos: 1 });
  await waitFor('raw.length === 3', () => raw.length === 3);
  assert.equal(raw[0]?.topic, 'ao/x');
  assert.ok((raw[0]?.alias ?? 0) > 0);
  assert.equal(raw[1]?.topic, '');
  assert.equal(raw[1]?.alias, raw[0]?.alias);
});

test('[MQTT-3.1.2-23] session expiry 0: no session after reconnect; > 0: session present', async () => {
  let present: boolean | undefined;
  const a = await tb.connect({ ...v5, clientId: 'se', properties: { sessionExpiryInterval: 0 } });
  await a.subscribeAsync('se/t', { qos: 1 });
  await a.endAsync();
  await tb.connect({ ...v5, clientId: 'se', clean: false }, (c) =>
    c.on('connect', (p) => (present = p.sessionPresent)),
  );
  assert.equal(present, false);
  const b = await tb.connect({ ...v5, clientId: 'se2', properties: { sessionExpiryInterval: 30 } });
  await b.endAsync();
  await tb.connect({ ...v5, clientId: 'se2', clean: false }, (c) =>
    c.on('connect', (p) => (present = p.sessionPresent)),
  );
  assert.equal(present, true);
});

test('server shutdown sends DISCONNECT 0x8B to v5 clients', async () => {
  const other = await startBroker();
  const c = await other.connect({ ...v5, clientId: 'bye' });
  let reason: number | undefined;
  c.on('disconnect', (p) => (reason = p.reasonCode));
  await other.broker.close();
  await waitFor('reason !== undefined', () => reason !== undefined);
  await other.close();
  assert.equal(reason, ReasonCode.ServerShuttingDown);
});
