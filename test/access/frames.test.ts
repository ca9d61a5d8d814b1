import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import {
  FrameSplitter,
  MalformedFrameError,
  publishPacketIdOffset,
  publishTopic,
  readPacketId,
  writePacketId,
} from '../../src/access/frames.ts';

const pub = (id: number, payload: string) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from(payload),
    qos: 1,
    messageId: id,
    dup: false,
    retain: false,
  });

test('frames: whole frames out of arbitrary chunking; frames inside a chunk are not copied', () => {
  const bytes = Buffer.concat([pub(1, 'x'), pub(2, 'y'.repeat(300)), pub(3, 'z')]);
  for (const cut of [1, 2, 3, 7, 50, 200, bytes.length - 1]) {
    const s = new FrameSplitter();
    const ids: number[] = [];
    const on = (f: Buffer) => void ids.push(readPacketId(f, publishPacketIdOffset(f)));
    s.push(bytes.subarray(0, cut), on);
    s.push(bytes.subarray(cut), on);
    assert.deepEqual(ids, [1, 2, 3], `cut at ${cut}`);
  }
  const s = new FrameSplitter();
  s.push(bytes, (f) => {
    assert.equal(f.buffer, bytes.buffer, 'a view of the chunk');
  });
});

test('frames: a reader that returns false pauses; resume() continues with the kept bytes', () => {
  const s = new FrameSplitter();
  const ids: number[] = [];
  let budget = 1;
  const on = (f: Buffer) => {
    ids.push(readPacketId(f, publishPacketIdOffset(f)));
    return --budget > 0;
  };
  s.push(Buffer.concat([pub(1, 'a'), pub(2, 'b'), pub(3, 'c')]), on);
  assert.deepEqual(ids, [1]);
  budget = 5;
  s.resume(on);
  assert.deepEqual(ids, [1, 2, 3]);
});

test('frames: packet id rewritten in place; topic read; over-long remaining length is malformed [MQTT-1.5.5-1]', () => {
  const f = pub(513, 'p');
  const off = publishPacketIdOffset(f);
  writePacketId(f, off, 65535);
  const parser = mqttPacket.parser();
  let id = 0;
  parser.on('packet', (p) => (id = p.messageId ?? 0));
  parser.parse(f);
  assert.equal(id, 65535);
  assert.equal(publishTopic(f), 'a/b');
  assert.throws(
    () => new FrameSplitter().push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => {}),
    MalformedFrameError,
  );
  assert.throws(() => new FrameSplitter(100).push(pub(1, 'x'.repeat(200)), () => {}), /too large/);
});
