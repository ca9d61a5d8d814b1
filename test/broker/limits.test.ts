/**
 * Memory bounds (docs/broker.md "Memory bounds") over real sockets: a subscriber that stops reading
 * 256 KiB messages, offline sessions against the broker-wide budget, what publishers are told, and
 * rate-limited logging of bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { pino } from 'pino';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { RateLimitedLog } from '../../src/log/rate-limited.ts';
import { startBroker } from '../support/broker.ts';
import { collect } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** PUBACK reason codes a v5 publisher gets for `n` QoS 1 messages of `size` bytes, one after the other. */
async function publishAll(
  client: import('mqtt').MqttClient,
  topic: string,
  n: number,
  size: number,
): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) {
    const payload = Buffer.alloc(size, i % 256);
    try {
      const packet = await client.publishAsync(topic, payload, { qos: 1 });
      codes.push((packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0);
    } catch (err) {
      codes.push((err as { code?: number }).code ?? -1);
    }
  }
  return codes;
}

test('a subscriber that stops reading 256 KiB messages holds at most maxQueuedBytes queued and maxInflightBytes in flight', async () => {
  const tb = await startBroker({
    maxQueuedBytes: 4 * MiB,
    maxInflightBytes: 1 * MiB,
    slowSubscriberHoldMs: 200,
  });
  try {
    // a raw client that subscribes, then never reads again
    const stuck = await tb.raw();
    stuck.write(
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clientId: 'stuck',
          clean: true,
          keepalive: 0,
        },
        { protocolVersion: 5 },
      ),
    );
    stuck.write(
      mqttPacket.generate(
        { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'big', qos: 1 }] },
        { protocolVersion: 5 },
      ),
    );
    await waitFor('subscription', () => tb.broker.stats.subscriptions === 1, 5000);
    stuck.pause();
    const publisher = await tb.connect({ protocolVersion: 5, clientId: 'pub' });
    // 80 × 256 KiB = 20 MiB, far more than the limits
    const codes = await publishAll(publisher, 'big', 80, 256 * KiB);
    const s = tb.broker.stats;
    const session = tb.broker.sessions.get('stuck')!;
    assert.ok(session.queuedBytes <= 4 * MiB, `queued ${session.queuedBytes}`);
    assert.ok(session.inflightBytes <= 1 * MiB, `in flight ${session.inflightBytes}`);
    assert.ok(s.queuedBytes + s.inflightBytes <= 5 * MiB, `held ${s.queuedBytes + s.inflightBytes}`);
    assert.ok(s.publishDropped > 50, `dropped ${s.publishDropped}`);
    // every message accepted or refused: nothing acknowledged and lost without the publisher knowing
    assert.equal(codes.filter((c) => c === 0).length + s.publishDropped, 80);
    assert.ok(
      codes.slice(-10).every((c) => c === ReasonCode.QuotaExceeded),
      String(codes.slice(-10)),
    );
  } finally {
    await tb.close();
  }
});

test('the broker-wide budget: offline sessions together hold at most maxQueuedBytesTotal; freed budget is usable again', async () => {
  const tb = await startBroker({
    maxQueuedBytes: 1 * MiB,
    maxQueuedBytesTotal: 1536 * KiB,
  });
  try {
    for (const id of ['off-1', 'off-2']) {
      const c = await tb.connect({
        protocolVersion: 5,
        clientId: id,
        properties: { sessionExpiryInterval: 600 },
      });
      await c.subscribeAsync('bulk/#', { qos: 1 });
      await c.endAsync();
    }
    const publisher = await tb.connect({ protocolVersion: 5, clientId: 'pub' });
    const codes = await publishAll(publisher, 'bulk/x', 40, 64 * KiB);
    const s = tb.broker.stats;
    assert.ok(s.queuedBytes <= 1536 * KiB, `queued ${s.queuedBytes}`);
    for (const id of ['off-1', 'off-2']) assert.ok(tb.broker.sessions.get(id)!.queuedBytes <= 1 * MiB);
    assert.ok(s.queuedBytes > 1400 * KiB, 'the budget was used');
    assert.equal(codes.at(-1), ReasonCode.QuotaExceeded);
    // a 3.1.1 publisher has no negative ack: acknowledged, dropped and counted (as Mosquitto does)
    const before = s.publishDropped;
    const v4 = await tb.connect({ protocolVersion: 4, clientId: 'pub-v4' });
    await v4.publishAsync('bulk/x', Buffer.alloc(64 * KiB), { qos: 1 });
    assert.equal(s.publishDropped, before + 2);
    // one session comes back and takes its queue: budget free again, the next message is taken
    let got: ReturnType<typeof collect> = [];
    const back = await tb.connect({ protocolVersion: 5, clientId: 'off-1', clean: false }, (c) => {
      got = collect(c);
    });
    await waitFor(
      'drained',
      () => tb.broker.sessions.get('off-1')!.queuedBytes === 0 && s.inflightBytes === 0,
      5000,
    );
    assert.ok(got.length > 0);
    const [after] = await publishAll(publisher, 'bulk/x', 1, 64 * KiB);
    assert.equal(after, 0);
    back.end(true);
  } finally {
    await tb.close();
  }
});

test('malformed packets: one log line per reason per interval, with the count left out, and no stack', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const tb = await startBroker({}, { logger: pino({ level: 'info' }, sink) });
  try {
    for (let i = 0; i < 30; i++) {
      const s = await tb.raw();
      // CONNECT then a PUBLISH with QoS 3: malformed
      s.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: `bad-${i}`,
          clean: true,
          keepalive: 0,
        }),
      );
      s.write(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]));
    }
    await waitFor(
      'all 30 bad clients handled',
      () => tb.broker.log.suppressedFor('closed-0x81') === 29,
      5000,
    );
    const bad = lines.filter((l) => l.includes('bad input'));
    assert.equal(bad.length, 1);
    assert.doesNotMatch(bad[0]!, /stack/);
    assert.match(bad[0]!, /"reasonCode":129/);
  } finally {
    await tb.close();
  }
});

test('RateLimitedLog: one line per reason per interval; the next carries how many were left out', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  let now = 0;
  const log = new RateLimitedLog(pino({ level: 'info' }, sink), { intervalMs: 1000, now: () => now });
  for (let i = 0; i < 100; i++) log.log('warn', 'a', { i }, 'reason a');
  log.log('info', 'b', {}, 'reason b');
  assert.equal(log.log('debug', 'c', {}, 'below the level'), false);
  now = 999;
  assert.equal(log.log('warn', 'a', {}, 'reason a'), false);
  now = 1000;
  assert.equal(log.log('warn', 'a', { i: 'last' }, 'reason a'), true);
  assert.deepEqual(
    lines.map((l) => [l.reason, l.msg, l.suppressed]),
    [
      ['a', 'reason a', undefined],
      ['b', 'reason b', undefined],
      ['a', 'reason a', 100],
    ],
  );
  assert.equal(log.suppressedFor('a'), 0);
});
