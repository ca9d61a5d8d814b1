import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { DedupWindow } from '../../src/access/dedup.ts';
import { publishFingerprint } from '../../src/access/frames.ts';
import { PacketIdMap } from '../../src/access/packet-ids.ts';
import { FakeClock } from './fake-clock.ts';

test('dedup: the other broker’s copy is dropped once; repeats from the same broker pass', () => {
  const d = new DedupWindow({ maxEntries: 16, windowMs: 1000 }, new FakeClock());
  assert.equal(d.accept(42, 0), true);
  assert.equal(d.accept(42, 0), true, 'same broker twice: two messages');
  assert.equal(d.accept(42, 1), false);
  assert.equal(d.accept(42, 1), false, 'second copy of the second message');
  assert.equal(d.accept(42, 1), true, 'a third from broker2 is new');
  assert.equal(d.duplicates, 2);
});

test('dedup: bounded in time and in entries', () => {
  const clock = new FakeClock();
  const d = new DedupWindow({ maxEntries: 3, windowMs: 1000 }, clock);
  d.accept(1, 0);
  clock.advance(1001);
  assert.equal(d.accept(1, 1), true, 'too old to be a copy');
  for (const k of [2, 3, 4, 5]) d.accept(k, 0);
  assert.ok(d.size <= 3);
  assert.equal(d.accept(2, 1), true, 'evicted by size');
  assert.equal(d.accept(5, 1), false);
});

test('fingerprint: same topic and payload from different packet ids, flags and v5 properties are equal', () => {
  const base = {
    cmd: 'publish' as const,
    topic: 'a/b',
    payload: Buffer.from('hello'),
    dup: false,
    retain: false,
  };
  const v4a = mqttPacket.generate({ ...base, qos: 1, messageId: 7 });
  const v4b = mqttPacket.generate({ ...base, qos: 2, messageId: 900, dup: true });
  const v4c = mqttPacket.generate({ ...base, qos: 0 });
  const v5a = mqttPacket.generate(
    { ...base, qos: 1, messageId: 1, properties: { subscriptionIdentifier: 5 } },
    { protocolVersion: 5 },
  );
  const v5b = mqttPacket.generate({ ...base, qos: 1, messageId: 2 }, { protocolVersion: 5 });
  const other = mqttPacket.generate({
    ...base,
    topic: 'a/bh',
    payload: Buffer.from('ello'),
    qos: 1,
    messageId: 7,
  });
  assert.equal(publishFingerprint(v4a, false), publishFingerprint(v4b, false));
  assert.equal(publishFingerprint(v4a, false), publishFingerprint(v4c, false));
  assert.equal(publishFingerprint(v5a, true), publishFingerprint(v5b, true));
  assert.equal(publishFingerprint(v5a, true), publishFingerprint(v4a, false));
  assert.notEqual(publishFingerprint(other, false), publishFingerprint(v4a, false));
});

test('packet ids: round robin, never 0, limit respected, released ids reused later [MQTT-2.2.1-3]', () => {
  const m = new PacketIdMap<string>(3);
  const ids = [m.assign('a'), m.assign('b'), m.assign('c')];
  assert.deepEqual(ids, [1, 2, 3]);
  assert.equal(m.assign('d'), 0, 'limit reached');
  assert.equal(m.release(2), 'b');
  assert.equal(m.assign('e'), 4, 'round robin: not the freshly released id');
  const wrap = new PacketIdMap<number>(65535, 65000, 65002);
  assert.deepEqual(
    [wrap.assign(1), wrap.assign(2), wrap.assign(3), wrap.assign(4)],
    [65000, 65001, 65002, 0],
  );
  wrap.release(65001);
  assert.equal(wrap.assign(5), 65001);
});

test('dedup: the window grows on demand and keeps every entry up to maxEntries', () => {
  const d = new DedupWindow({ maxEntries: 100, windowMs: 1000 }, new FakeClock());
  for (let k = 1; k <= 100; k++) assert.equal(d.accept(k, 0), true);
  assert.equal(d.size, 100);
  for (let k = 1; k <= 100; k++) assert.equal(d.accept(k, 1), false, `key ${k}`);
  assert.equal(d.duplicates, 100);
});
