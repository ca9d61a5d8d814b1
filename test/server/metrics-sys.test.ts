// Pure parts: the Prometheus text renderer and the $SYS publisher driven by a fake clock.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { renderMetrics } from '../../src/broker/server/metrics.ts';
import { SYS_PREFIX, SysPublisher } from '../../src/broker/sys.ts';
import type { BrokerStats, Clock, TimerHandle } from '../../src/broker/types.ts';

function stats(overrides: Partial<BrokerStats> = {}): BrokerStats {
  return {
    clientsConnected: 3,
    clientsTotal: 5,
    clientsMaximum: 4,
    sessions: 5,
    messagesReceived: 100,
    messagesSent: 200,
    publishReceived: 40,
    publishSent: 80,
    packetsReceived: 300,
    packetsSent: 400,
    publishDropped: 1,
    bytesReceived: 4096,
    bytesSent: 8192,
    subscriptions: 7,
    retainedMessages: 2,
    inflightMessages: 0,
    queuedMessages: 0,
    queuedBytes: 0,
    inflightBytes: 0,
    startedAt: 1_000_000,
    ...overrides,
  };
}

describe('renderMetrics', () => {
  let text = '';
  let samples = new Map<string, string>();
  before(async () => {
    text = await renderMetrics(stats(), { uptime: 12.5, residentMemoryBytes: 1e6, cpuSeconds: 0.25 });
    samples = new Map(
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split(' ') as [string, string]),
    );
  });

  test('every sample has HELP and TYPE lines and a valid metric name', () => {
    for (const name of samples.keys()) {
      assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      assert.match(text, new RegExp(`^# HELP ${name} .+$`, 'm'));
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'));
    }
  });

  test('carries the broker figures, counters named *_total', () => {
    assert.equal(samples.get('mqiot_clients_connected'), '3');
    assert.equal(samples.get('mqiot_messages_received_total'), '100');
    assert.equal(samples.get('mqiot_packets_received_total'), '300');
    assert.equal(samples.get('mqiot_bytes_sent_total'), '8192');
    assert.equal(samples.get('mqiot_retained_messages'), '2');
    assert.equal(samples.get('mqiot_uptime_seconds'), '12.5');
    assert.equal(samples.get('process_cpu_seconds_total'), '0.25');
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE') && l.endsWith('counter'))) {
      assert.match(line, /_total counter$/);
    }
  });

  test('a stat the broker does not keep is left out rather than printed as NaN', async () => {
    const partial = stats();
    delete (partial as Partial<BrokerStats>).queuedMessages;
    const out = await renderMetrics(partial, { uptime: 0, residentMemoryBytes: 0, cpuSeconds: 0 });
    assert.doesNotMatch(out, /mqiot_queued_messages/);
    assert.doesNotMatch(out, /NaN/);
  });

  test('each page has its own registry: two brokers in one process do not collide', async () => {
    const other = await renderMetrics(stats({ clientsConnected: 9 }), {
      uptime: 1,
      residentMemoryBytes: 1,
      cpuSeconds: 1,
    });
    assert.match(other, /^mqiot_clients_connected 9$/m);
    assert.match(text, /^mqiot_clients_connected 3$/m);
  });
});

class FakeClock implements Clock {
  t = 1_000_000;
  timers: Array<{ at: number; fn: () => void; handle: TimerHandle }> = [];
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): TimerHandle => {
    const handle = {};
    this.timers.push({ at: this.t + ms, fn, handle });
    return handle;
  };
  clearTimeout = (h: TimerHandle) => {
    this.timers = this.timers.filter((x) => x.handle !== h);
  };
  advance(ms: number) {
    this.t += ms;
    for (const timer of this.timers.filter((x) => x.at <= this.t)) {
      this.timers = this.timers.filter((x) => x !== timer);
      timer.fn();
    }
  }
}

describe('SysPublisher', () => {
  function setup(interval = 10) {
    const clock = new FakeClock();
    const s = stats({ startedAt: clock.t });
    const published: Array<{ topic: string; payload: string; retain?: boolean; qos?: number }> = [];
    const target = {
      stats: s,
      publish: (m: { topic: string; payload: Buffer; retain?: boolean; qos?: number }) =>
        published.push({ topic: m.topic, payload: m.payload.toString(), retain: m.retain, qos: m.qos }),
    };
    const sys = new SysPublisher(target, { interval, version: 'mqiot 9.9.9', clock });
    return { clock, s, published, sys };
  }

  test('start publishes version and every figure, retained, under $SYS/broker/', () => {
    const { published, sys } = setup();
    sys.start();
    const topics = published.map((p) => p.topic);
    assert.equal(published[0].topic, '$SYS/broker/version');
    assert.equal(published[0].payload, 'mqiot 9.9.9');
    for (const t of [
      'uptime',
      'clients/connected',
      'messages/received',
      'bytes/sent',
      'subscriptions/count',
    ]) {
      assert.ok(topics.includes(SYS_PREFIX + t), t);
    }
    assert.ok(published.every((p) => p.retain === true && p.qos === 0 && p.topic.startsWith(SYS_PREFIX)));
    sys.stop();
  });

  test('each interval republishes only what changed; uptime counts seconds', () => {
    const { clock, s, published, sys } = setup(10);
    sys.start();
    published.length = 0;
    s.clientsConnected = 9;
    clock.advance(10_000);
    assert.deepEqual(
      published.map((p) => [p.topic, p.payload]),
      [
        ['$SYS/broker/uptime', '10'],
        ['$SYS/broker/clients/connected', '9'],
      ],
    );
    published.length = 0;
    clock.advance(9_999);
    assert.equal(published.length, 0, 'nothing before the next interval');
    clock.advance(1);
    assert.deepEqual(
      published.map((p) => p.topic),
      ['$SYS/broker/uptime'],
    );
    sys.stop();
    published.length = 0;
    clock.advance(60_000);
    assert.equal(published.length, 0, 'stopped');
    assert.equal(clock.timers.length, 0);
  });

  test('interval 0 turns $SYS off', () => {
    const { published, sys, clock } = setup(0);
    sys.start();
    clock.advance(100_000);
    assert.equal(published.length, 0);
  });
});
