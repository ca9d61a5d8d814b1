/** Malformed and forbidden bytes over a raw socket: the offender is closed, others are not disturbed. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

let tb: TestBroker;
before(async () => {
  tb = await startBroker({ maximumPacketSize: 200 });
});
after(() => tb.close());

const CONNECT_V4 = (id = 'id', flags = 0x02): Buffer =>
  Buffer.from([
    0x10,
    12 + id.length,
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    4,
    flags,
    0,
    60,
    0,
    id.length,
    ...Buffer.from(id),
  ]);
const CONNECT_V5 = (id = 'id'): Buffer =>
  Buffer.from([
    0x10,
    13 + id.length,
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    5,
    0x02,
    0,
    60,
    0,
    0,
    id.length,
    ...Buffer.from(id),
  ]);

/** Sends bytes and returns every packet the broker wrote until it closed the socket. */
async function exchange(
  chunks: Buffer[],
  version: 4 | 5,
  waitClose = true,
): Promise<{ packets: Packet[]; closed: boolean; s: net.Socket }> {
  const s = await tb.raw();
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  s.on('data', (d: Buffer) => parser.parse(d));
  let closed = false;
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  for (const c of chunks) s.write(c);
  if (waitClose) await waitFor('broker to close the socket', () => closed, 5000);
  return { packets, closed, s };
}

const reasonOf = (p: Packet | undefined): number | undefined =>
  (p as { reasonCode?: number } | undefined)?.reasonCode;

test('[MQTT-3.1.0-1] a packet before CONNECT closes the connection without a reply', async () => {
  const { packets } = await exchange([Buffer.from([0xc0, 0x00])], 4);
  assert.equal(packets.length, 0);
});

test('[MQTT-1.5.5-1] a remaining length over 4 bytes is malformed: closed', async () => {
  const { packets } = await exchange([CONNECT_V4(), Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])], 4);
  assert.equal(packets[0]?.cmd, 'connack');
  assert.equal(packets.length, 1);
});

test('[MQTT-3.8.1-1] SUBSCRIBE with reserved flags 0000 is malformed: DISCONNECT 0x81', async () => {
  const sub = Buffer.from([0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00]);
  const { packets } = await exchange([CONNECT_V5(), sub], 5);
  assert.equal(packets[0]?.cmd, 'connack');
  assert.equal(packets[1]?.cmd, 'disconnect');
  assert.equal(reasonOf(packets[1]), ReasonCode.MalformedPacket);
});

test('[MQTT-1.5.4-1] a PUBLISH topic that is not valid UTF-8 is malformed: DISCONNECT 0x81', async () => {
  const pub = Buffer.from([0x30, 0x07, 0x00, 0x03, 0x61, 0xff, 0x62, 0x00, 0x78]);
  const { packets } = await exchange([CONNECT_V5(), pub], 5);
  assert.equal(reasonOf(packets[1]), ReasonCode.MalformedPacket);
});

test('[MQTT-3.3.2-2] a wildcard in a PUBLISH topic: DISCONNECT 0x90', async () => {
  const pub = Buffer.from([0x30, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x23, 0x00, 0x78]);
  const { packets } = await exchange([CONNECT_V5(), pub], 5);
  assert.equal(reasonOf(packets[1]), ReasonCode.TopicNameInvalid);
});

test('[MQTT-3.3.1-4] PUBLISH with QoS 3 is malformed: closed', async () => {
  const pub = Buffer.from([0x36, 0x07, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00, 0x78]);
  const { packets } = await exchange([CONNECT_V5(), pub], 5);
  assert.equal(packets[0]?.cmd, 'connack');
  assert.ok(packets.length === 1 || reasonOf(packets[1]) === ReasonCode.MalformedPacket);
});

test('[MQTT-3.1.0-2] a second CONNECT: DISCONNECT 0x82', async () => {
  const { packets } = await exchange([CONNECT_V5(), CONNECT_V5()], 5);
  assert.equal(reasonOf(packets[1]), ReasonCode.ProtocolError);
});

test('[MQTT-3.1.2-24] a packet over our Maximum Packet Size: DISCONNECT 0x95', async () => {
  const payload = Buffer.alloc(300, 0x41);
  const len = 2 + 1 + 1 + payload.length;
  const pub = Buffer.concat([
    Buffer.from([0x30, (len & 0x7f) | 0x80, len >> 7, 0x00, 0x01, 0x61, 0x00]),
    payload,
  ]);
  const { packets } = await exchange([CONNECT_V5(), pub], 5);
  assert.equal(
    (packets[0] as { properties?: { maximumPacketSize?: number } }).properties?.maximumPacketSize,
    200,
  );
  assert.equal(reasonOf(packets[1]), ReasonCode.PacketTooLarge);
});

test('[MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01 and close', async () => {
  const bad = CONNECT_V4();
  bad[8] = 6;
  const { packets } = await exchange([bad], 4);
  assert.equal(packets[0]?.cmd, 'connack');
  assert.equal((packets[0] as { returnCode?: number }).returnCode, 1);
});

test('[MQTT-3.1.3-8] empty client id with clean session 0: CONNACK 0x02', async () => {
  const { packets } = await exchange([CONNECT_V4('', 0x00)], 4);
  assert.equal((packets[0] as { returnCode?: number }).returnCode, 2);
});

test('an invalid topic filter gets SUBACK 0x8F (v5) and the connection stays', async () => {
  const filter = Buffer.from('a/#/b');
  const sub = Buffer.from([
    0x82,
    2 + 1 + 2 + filter.length + 1,
    0x00,
    0x05,
    0x00,
    0x00,
    filter.length,
    ...filter,
    0x01,
  ]);
  const { packets, s } = await exchange([CONNECT_V5(), sub], 5, false);
  await waitFor('packets.length === 2', () => packets.length === 2);
  assert.deepEqual((packets[1] as { granted: number[] }).granted, [ReasonCode.TopicFilterInvalid]);
  s.destroy();
});

test('malformed input from one client does not disturb another', async () => {
  const good = await tb.connect({ protocolVersion: 5, clientId: 'bystander' });
  const msgs = collect(good);
  await good.subscribeAsync('calm/t', { qos: 1 });
  await exchange([CONNECT_V5('vandal'), Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])], 5);
  await good.publishAsync('calm/t', 'still here', { qos: 1 });
  await waitFor('msgs.length === 1', () => msgs.length === 1);
  assert.equal(msgs[0]?.payload, 'still here');
});
