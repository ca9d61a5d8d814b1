// Data acknowledgements on the gateway side (docs/protocol.md "Data acknowledgements"): the pure
// AckTracker on a fake clock, and the uplink pump over a real disk queue with a fake MQTT link, where
// time moves only when the test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckTracker } from '../../src/gateway/ack-tracker.ts';
import { PublishRejectedError } from '../../src/gateway/broker-link.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { ReportTracker } from '../../src/gateway/reports.ts';
import type { GatewayStats } from '../../src/gateway/status.ts';
import { UplinkPump } from '../../src/gateway/uplink-pump.ts';
import { decodeEnvelope, type DataEnvelope } from '../../src/protocol/envelope.ts';
import { makeTempDir } from '../support/temp.ts';

test('ack tracker: overdue after the timeout, oldest first; the wait doubles per resend up to the bound', () => {
  const acks = new AckTracker({ timeoutMs: 100, maxMs: 350 });
  acks.accepted(5, 1000);
  acks.accepted(3, 1010);
  assert.equal(acks.pending, 2);
  assert.equal(acks.nextAt(), 1100);
  assert.deepEqual(acks.due(1099), []);
  assert.deepEqual(acks.due(1110), [3, 5], 'oldest first');
  assert.equal(acks.nextAt(), undefined, 'not due again until the resend is accepted');
  assert.deepEqual(acks.due(5000), []);
  const waits: number[] = [];
  let now = 2000;
  for (let i = 0; i < 4; i++) {
    acks.accepted(5, now);
    waits.push(acks.nextAt()! - now);
    now = acks.nextAt()!;
    assert.deepEqual(acks.due(now).includes(5), true);
  }
  assert.deepEqual(waits, [200, 350, 350, 350], 'doubling from the first resend, bounded');
  assert.equal(acks.acked(5), true);
  assert.equal(acks.acked(5), false, 'a second ack for the same group changes nothing');
  assert.deepEqual(acks.clear(), [3]);
  assert.equal(acks.pending, 0);
});

test('ack tracker: a forgotten group (dropped from a full queue) is never due', () => {
  const acks = new AckTracker({ timeoutMs: 10, maxMs: 10 });
  acks.accepted(1, 0);
  acks.forget(1);
  assert.deepEqual(acks.due(100), []);
  assert.equal(acks.has(1), false);
});

interface Sent {
  seq: number;
  re: boolean;
  done: (err?: Error) => void;
}

function setup(t: { after(fn: () => void): void }, options: { ackTimeoutMs?: number } = {}) {
  const tmp = makeTempDir('mqiot-data-ack-');
  const config = parseGatewayConfig(
    {
      gateway: { id: 'gw-ack' },
      mqtt: { urls: ['mqtt://127.0.0.1:1'] },
      queue: { path: `${tmp.dir}/q.db`, ackTimeoutMs: options.ackTimeoutMs ?? 1000, retryMaxMs: 8000 },
      devices: [],
    },
    tmp.dir,
  );
  let now = 1_700_000_000_000;
  const clock = {
    now: () => now,
    setTimeout: () => undefined,
    clearTimeout: () => undefined,
  };
  const sent: Sent[] = [];
  const link = {
    up: true,
    usable: () => link.up,
    publish: (payload: Buffer, _qos: 0 | 1 | 2, done: Sent['done']) => {
      const e = decodeEnvelope(payload) as DataEnvelope;
      sent.push({ seq: e.seq, re: e.re === true, done });
    },
  };
  const stats = { refused: 0, published: 0, groupsAcked: 0, groupsResent: 0 } as GatewayStats;
  const pump = new UplinkPump(config.queue, 1, {
    clock,
    stats,
    link,
    reports: new ReportTracker(config.reports, now),
    wake: () => undefined,
  });
  t.after(() => {
    pump.close();
    tmp.cleanup();
  });
  let frameSeq = 0;
  const data = () =>
    pump.enqueue('data', (seq) => ({
      v: 1,
      k: 'data',
      gw: 'gw-ack',
      seq,
      ts: now,
      ack: true,
      frames: [{ dev: 'd-1', c: 'toy', ts: now, seq: frameSeq++, raw: Buffer.from([1, 2]) }],
    }))!;
  return {
    pump,
    sent,
    link,
    stats,
    data,
    advance: (ms: number) => (now += ms),
    /** The broker acknowledges every send not yet answered. */
    pubackAll: () => {
      for (const s of sent.splice(0)) s.done();
    },
  };
}

test('pump: against a platform that acknowledges, a group stays queued after the PUBACK until its data-ack', (t) => {
  const s = setup(t);
  s.pump.platformAcknowledges(['data']);
  const seq = s.data();
  assert.deepEqual(
    s.sent.map((x) => [x.seq, x.re]),
    [[seq, false]],
    'a first send is not marked as a resend',
  );
  s.pubackAll();
  assert.equal(s.pump.outbox.depth, 1, 'the broker has it; the platform has not said it is stored');
  assert.equal(s.pump.awaitingAck, 1);
  s.pump.onDataAck([seq]);
  assert.equal(s.pump.outbox.depth, 0);
  assert.equal(s.pump.awaitingAck, 0);
  assert.equal(s.stats.groupsAcked, 1);
  assert.equal(s.pump.nextAt(), undefined, 'nothing left to wait for');
});

test('pump: no data-ack within the timeout — the group goes again, marked re, and again after twice the wait', (t) => {
  const s = setup(t, { ackTimeoutMs: 1000 });
  s.pump.platformAcknowledges(['data']);
  const seq = s.data();
  const second = s.data();
  s.pubackAll();
  s.pump.onDataAck([second]); // the instance that took the second group stored it
  s.advance(999);
  s.pump.pump();
  assert.equal(s.sent.length, 0, 'not before the timeout');
  assert.equal(s.pump.nextAt(), s.advance(1), 'the wake-up timer is set for the timeout');
  s.pump.pump();
  assert.deepEqual(
    s.sent.map((x) => [x.seq, x.re]),
    [[seq, true]],
    'only the unacknowledged group, marked as possibly delivered before',
  );
  assert.equal(s.stats.groupsResent, 1);
  s.pubackAll();
  s.advance(1999);
  s.pump.pump();
  assert.equal(s.sent.length, 0, 'the second wait is twice as long');
  s.advance(1);
  s.pump.pump();
  assert.deepEqual(
    s.sent.map((x) => x.seq),
    [seq],
  );
  s.sent[0]!.done(new PublishRejectedError(0x80));
  s.sent.length = 0;
  assert.equal(s.pump.awaitingAck, 1, 'a resend the broker refused is waited for again');
  s.pump.onDataAck([seq]);
  assert.equal(s.pump.outbox.depth, 0);
});

test('pump: a platform that does not acknowledge — the PUBACK releases the group, as before', (t) => {
  const s = setup(t);
  s.pump.platformAcknowledges(undefined);
  s.data();
  s.pubackAll();
  assert.equal(s.pump.outbox.depth, 0);
  assert.equal(s.pump.awaitingAck, 0);
});

test('pump: a heartbeat without acks (an older instance) releases the groups waiting for one', (t) => {
  const s = setup(t);
  s.pump.platformAcknowledges(['data']);
  s.data();
  s.data();
  s.pubackAll();
  assert.equal(s.pump.outbox.depth, 2);
  s.pump.platformAcknowledges([]);
  assert.equal(s.pump.outbox.depth, 0);
  assert.equal(s.pump.awaitingAck, 0);
});

test('pump: a data-ack before the PUBACK (platform in the broker process) leaves nothing waiting', (t) => {
  const s = setup(t);
  s.pump.platformAcknowledges(['data']);
  const seq = s.data();
  s.pump.onDataAck([seq]);
  s.pubackAll();
  assert.equal(s.pump.outbox.depth, 0);
  assert.equal(s.pump.awaitingAck, 0);
  assert.equal(s.pump.nextAt(), undefined);
});

test('pump: after a lost connection every unacknowledged group goes again from the oldest, marked re', (t) => {
  const s = setup(t);
  s.pump.platformAcknowledges(['data']);
  const a = s.data();
  const b = s.data();
  s.pubackAll();
  const c = s.data(); // in flight when the connection goes
  s.link.up = false;
  for (const x of s.sent.splice(0)) x.done(new Error('connection lost'));
  s.pump.connectionLost();
  assert.equal(s.pump.awaitingAck, 0);
  s.link.up = true;
  s.pump.pump();
  assert.deepEqual(
    s.sent.map((x) => [x.seq, x.re]),
    [
      [a, true],
      [b, true],
      [c, true],
    ],
  );
});

test('pump: groups queued by an earlier run are marked re on their first send of this run', (t) => {
  const tmp = makeTempDir('mqiot-data-ack-restart-');
  t.after(() => tmp.cleanup());
  const config = parseGatewayConfig(
    {
      gateway: { id: 'gw-r' },
      mqtt: { urls: ['mqtt://127.0.0.1:1'] },
      queue: { path: `${tmp.dir}/q.db` },
      devices: [],
    },
    tmp.dir,
  );
  const sent: DataEnvelope[] = [];
  const make = (usable: boolean) =>
    new UplinkPump(config.queue, 1, {
      clock: { now: () => 0, setTimeout: () => undefined, clearTimeout: () => undefined },
      stats: { refused: 0, published: 0, groupsAcked: 0, groupsResent: 0 } as GatewayStats,
      link: { usable: () => usable, publish: (p) => sent.push(decodeEnvelope(p) as DataEnvelope) },
      reports: new ReportTracker(config.reports, 0),
      wake: () => undefined,
    });
  const first = make(false);
  const frames = [{ dev: 'd', c: 'toy', ts: 0, seq: 0, raw: Buffer.from([1]) }];
  first.enqueue('data', (seq) => ({ v: 1, k: 'data', gw: 'gw-r', seq, ts: 0, ack: true, frames }));
  first.close();
  const second = make(true);
  t.after(() => second.close());
  second.enqueue('data', (seq) => ({ v: 1, k: 'data', gw: 'gw-r', seq, ts: 0, ack: true, frames }));
  assert.deepEqual(
    sent.map((e) => e.re === true),
    [true, false],
  );
});
