import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { PacketReader, type FramedPublish } from '../../src/broker/packet-reader.ts';
import { fromCodecError, ProtocolViolation } from '../../src/broker/errors.ts';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';

function reader(max = 1 << 20): { r: PacketReader; packets: Packet[]; errors: Error[] } {
  const packets: Packet[] = [];
  const errors: Error[] = [];
  const r = new PacketReader(max, { onPacket: (p) => packets.push(p), onError: (e) => errors.push(e) });
  return { r, packets, errors };
}

const gen = (p: Packet, v: 4 | 5 = 4): Buffer => mqttPacket.generate(p, { protocolVersion: v });
const publish = (topic: string, payload: string, qos: 0 | 1 | 2, v: 4 | 5 = 4, properties?: object): Buffer =>
  gen(
    {
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos,
      retain: qos === 2,
      dup: false,
      messageId: qos ? 9 : undefined,
      ...(properties ? { properties } : {}),
    } as Packet,
    v,
  );

test('[MQTT-1.5.5] frames split across chunks, one byte at a time, and many per chunk', () => {
  const { r, packets, errors } = reader();
  const bytes = Buffer.concat([
    publish('a/b', 'x'.repeat(300), 1),
    gen({ cmd: 'pingreq' }),
    publish('c', 'y', 0),
  ]);
  for (const b of bytes) r.push(Buffer.from([b]));
  r.push(bytes);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    packets.map((p) => p.cmd),
    ['publish', 'pingreq', 'publish', 'publish', 'pingreq', 'publish'],
  );
  const first = packets[0] as FramedPublish;
  assert.equal(first.topic, 'a/b');
  assert.equal(first.payload.length, 300);
  assert.equal(first.messageId, 9);
  assert.equal(first.qos, 1);
  assert.equal(first.frame.length, bytes.length - 2 - 6);
});

test('v5 PUBLISH without properties takes the fast path; with properties the full codec', () => {
  const { r, packets } = reader();
  r.setProtocolVersion(5);
  r.push(publish('t', 'p', 2, 5));
  r.push(publish('t', 'p', 1, 5, { contentType: 'text/plain' }));
  assert.equal((packets[0] as FramedPublish).frame !== undefined, true);
  assert.equal((packets[0] as FramedPublish).retain, true);
  assert.equal((packets[1] as FramedPublish).frame, undefined);
  assert.equal(
    (packets[1] as { properties?: { contentType?: string } }).properties?.contentType,
    'text/plain',
  );
});

test('[MQTT-3.1.2-24] an oversize packet is refused from its header, before the body arrives', () => {
  const { r, errors } = reader(100);
  r.push(Buffer.from([0x30, 0xc8, 0x01])); // remaining length 200
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolViolation);
  assert.equal((errors[0] as ProtocolViolation).reasonCode, ReasonCode.PacketTooLarge);
});

test('[MQTT-1.5.5-1] a fifth remaining-length byte and QoS 3 are malformed', () => {
  const a = reader();
  a.r.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.equal((a.errors[0] as ProtocolViolation).reasonCode, ReasonCode.MalformedPacket);
  const b = reader();
  b.r.push(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]));
  assert.equal((b.errors[0] as ProtocolViolation).reasonCode, ReasonCode.MalformedPacket);
});

test('acknowledgements and PINGREQ are decoded directly; a PUBREL with wrong flags is malformed [MQTT-3.6.1-1]', () => {
  const { r, packets, errors } = reader();
  r.push(Buffer.from([0x40, 2, 0, 7, 0x50, 2, 1, 0, 0x62, 2, 0, 9, 0x70, 2, 0, 10, 0xc0, 0]));
  assert.deepEqual(
    packets.map((p) => [p.cmd, p.messageId]),
    [
      ['puback', 7],
      ['pubrec', 256],
      ['pubrel', 9],
      ['pubcomp', 10],
      ['pingreq', undefined],
    ],
  );
  r.push(Buffer.from([0x60, 2, 0, 1]));
  assert.equal(errors.length, 1);
  assert.equal(fromCodecError(errors[0]!).reasonCode, ReasonCode.MalformedPacket);
});
