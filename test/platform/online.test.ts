import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeartbeatScheduler } from '../../src/platform/online/heartbeat.ts';
import { OnlineTracker } from '../../src/platform/online/online-tracker.ts';

describe('HeartbeatScheduler', () => {
  it('heartbeat: every known gateway once per minute by default', () => {
    const hb = new HeartbeatScheduler();
    hb.addGateway('gw-1', 0);
    hb.addGateway('gw-2', 0);
    assert.deepEqual(hb.tick(0), ['gw-1', 'gw-2']);
    assert.deepEqual(hb.tick(59_999), []);
    assert.deepEqual(hb.tick(60_000), ['gw-1', 'gw-2']);
    assert.deepEqual(hb.tick(119_000), []);
  });

  it('answers a birth at once and restarts the period from it', () => {
    const hb = new HeartbeatScheduler(10_000);
    hb.addGateway('gw-1', 0);
    hb.tick(0);
    assert.deepEqual(hb.birth('gw-1', 3000), ['gw-1']);
    assert.deepEqual(hb.tick(10_000), []);
    assert.deepEqual(hb.tick(13_000), ['gw-1']);
  });

  it('does not bunch heartbeats after a long pause', () => {
    const hb = new HeartbeatScheduler(1000);
    hb.addGateway('gw-1', 0);
    hb.tick(0);
    assert.deepEqual(hb.tick(10_500), ['gw-1']);
    assert.deepEqual(hb.tick(10_600), []);
    assert.deepEqual(hb.tick(11_500), ['gw-1']);
  });
});

describe('OnlineTracker', () => {
  it('a gateway is online from its birth and offline on its will, each change timed', () => {
    const t = new OnlineTracker();
    assert.deepEqual(t.birth('gw-1', 10, 'e1', 100), [
      { subjectType: 'gateway', id: 'gw-1', online: true, at: 100, reason: 'birth' },
    ]);
    assert.deepEqual(t.birth('gw-1', 10, 'e1', 150), [], 'no change, no event');
    const down = t.will('gw-1', 10, 'e1', 200, 'connection lost');
    assert.deepEqual(down, [
      {
        subjectType: 'gateway',
        id: 'gw-1',
        online: false,
        at: 200,
        reason: 'will',
        detail: { gatewayReason: 'connection lost' },
      },
    ]);
  });

  it('ignores a stale will (older than the latest birth)', () => {
    const t = new OnlineTracker();
    t.birth('gw-1', 10, 'e1', 100);
    t.will('gw-1', 10, 'e1', 150);
    t.birth('gw-1', 20, 'e1', 160);
    assert.deepEqual(t.will('gw-1', 10, 'e1', 170), []);
    assert.equal(t.isOnline('gateway', 'gw-1'), true);
  });

  it('a silent gateway goes offline after the valid interval, with its devices', () => {
    const t = new OnlineTracker({ gatewayValidIntervalMs: 1000 });
    t.describeDevice('d-1', 'gw-1', 100_000);
    t.reading('d-1', 'gw-1', 0);
    assert.deepEqual(t.tick(1000), []);
    const changes = t.tick(1001);
    assert.deepEqual(
      changes.map((c) => `${c.subjectType}:${c.id}:${c.online}:${c.reason}`),
      ['gateway:gw-1:false:silent', 'device:d-1:false:gateway-offline'],
    );
    assert.deepEqual(
      t.reading('d-1', 'gw-1', 2000).map((c) => `${c.subjectType}:${c.online}:${c.reason}`),
      ['gateway:true:uplink', 'device:true:reading'],
    );
  });

  it('a device goes offline when it misses 3 polls (its own poll interval)', () => {
    const t = new OnlineTracker({ gatewayValidIntervalMs: 1_000_000 });
    t.describeDevice('fast', 'gw-1', 1000);
    t.describeDevice('slow', 'gw-1', 60_000);
    t.reading('fast', 'gw-1', 0);
    t.reading('slow', 'gw-1', 0);
    assert.deepEqual(t.tick(3000), []);
    assert.deepEqual(
      t.tick(3001).map((c) => c.id),
      ['fast'],
    );
    assert.equal(t.isOnline('device', 'slow'), true);
  });
});
