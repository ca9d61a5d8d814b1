import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandManager, type CommandEffect } from '../../src/platform/commands/command-manager.ts';
import { FakeClock } from '../../src/platform/clock.ts';

const sends = (effects: CommandEffect[]) => effects.filter((e) => e.type === 'send');
const lastSaved = (effects: CommandEffect[]) => effects.filter((e) => e.type === 'save').at(-1)?.record;

function relay(id = 'c-1') {
  return {
    id,
    kind: 'command' as const,
    gatewayId: 'gw-1',
    deviceId: 'meter-1',
    action: 'relay',
    params: { on: true },
  };
}

describe('CommandManager (fake clock, no sockets)', () => {
  it('sends a command at once: pending → sent, attempt 1', () => {
    const clock = new FakeClock(1000);
    const manager = new CommandManager({ commandTimeoutMs: 5000 });
    const effects = manager.submit(relay(), clock.now());
    assert.equal(sends(effects).length, 1);
    assert.equal(sends(effects)[0]?.record.attempts, 1);
    assert.deepEqual(
      lastSaved(effects)?.history.map((h) => h.state),
      ['pending', 'sent'],
    );
    assert.equal(manager.nextDeadline(), 6000);
  });

  it('control command: resent after each timeout, failed and dropped after exactly 3 timeouts', () => {
    const clock = new FakeClock(0);
    const manager = new CommandManager({ commandTimeoutMs: 5000 });
    let total = sends(manager.submit(relay(), clock.now())).length;
    assert.deepEqual(manager.tick(clock.advance(4999)), [], 'nothing before the timeout');
    const second = manager.tick(clock.advance(1));
    assert.equal(sends(second)[0]?.record.attempts, 2);
    total += sends(second).length;
    total += sends(manager.tick(clock.advance(5000))).length;
    const last = manager.tick(clock.advance(5000));
    total += sends(last).length;
    assert.equal(total, 3, 'three tries in all');
    const failed = lastSaved(last);
    assert.equal(failed?.state, 'failed');
    assert.equal(failed?.error, 'no answer after 3 attempts');
    assert.deepEqual(
      failed?.history.map((h) => `${h.state}${h.attempt ?? ''}@${h.at}`),
      [
        'pending@0',
        'sent1@0',
        'timed-out1@5000',
        'sent2@5000',
        'timed-out2@10000',
        'sent3@10000',
        'timed-out3@15000',
        'failed@15000',
      ],
    );
    assert.equal(manager.inFlightCount, 0, 'dropped');
    assert.deepEqual(manager.tick(clock.advance(60_000)), [], 'never sent again');
  });

  it('resends keep the command id (the gateway deduplicates)', () => {
    const manager = new CommandManager({ commandTimeoutMs: 100 });
    const first = sends(manager.submit(relay('same-id'), 0))[0]?.record;
    const again = sends(manager.tick(100))[0]?.record;
    assert.equal(first?.id, 'same-id');
    assert.equal(again?.id, 'same-id');
  });

  it('a successful result ends the command executed, with the answer', () => {
    const manager = new CommandManager({ commandTimeoutMs: 1000 });
    manager.submit(relay(), 0);
    manager.tick(1000); // one timeout, one resend
    const effects = manager.onAnswer(
      { kind: 'cmd-result', id: 'c-1', ok: true, result: { raw: '68', points: [] } },
      1200,
    );
    const record = lastSaved(effects);
    assert.equal(record?.state, 'executed');
    assert.deepEqual(record?.result, { raw: '68', points: [] });
    assert.equal(record?.attempts, 2);
    assert.equal(manager.nextDeadline(), undefined);
    assert.deepEqual(manager.tick(10_000), []);
    assert.deepEqual(
      manager.onAnswer({ kind: 'cmd-result', id: 'c-1', ok: true }, 1300),
      [],
      'late duplicate ignored',
    );
  });

  it('a refused command ends failed with the gateway error', () => {
    const manager = new CommandManager();
    manager.submit(relay(), 0);
    const record = lastSaved(
      manager.onAnswer({ kind: 'cmd-result', id: 'c-1', ok: false, error: 'exception 2' }, 10),
    );
    assert.equal(record?.state, 'failed');
    assert.equal(record?.error, 'exception 2');
  });

  it('status query: 30 s timer by default, same retry rule', () => {
    const manager = new CommandManager();
    manager.submit({ ...relay('q-1'), kind: 'query', action: 'status' }, 0);
    assert.equal(manager.nextDeadline(), 30_000);
    assert.equal(sends(manager.tick(29_999)).length, 0);
    assert.equal(sends(manager.tick(30_000)).length, 1);
    assert.equal(sends(manager.tick(60_000)).length, 1);
    assert.equal(lastSaved(manager.tick(90_000))?.state, 'failed');
  });

  it('a query answered within its window is executed; "not completed" is acknowledged with the error', () => {
    const manager = new CommandManager();
    manager.submit({ ...relay('q-1'), kind: 'query', action: 'status' }, 0);
    const done = lastSaved(
      manager.onAnswer({ kind: 'status', id: 'q-1', complete: true, status: { ok: 1 } }, 29_000),
    );
    assert.equal(done?.state, 'executed');
    assert.deepEqual(done?.result, { ok: 1 });
    manager.submit({ ...relay('q-2'), kind: 'query', action: 'status' }, 0);
    const partial = lastSaved(
      manager.onAnswer({ kind: 'status', id: 'q-2', complete: false, status: {}, error: 'pm-9 unknown' }, 10),
    );
    assert.equal(partial?.state, 'acknowledged');
    assert.equal(partial?.error, 'pm-9 unknown');
  });

  it('refuses a bad configuration and a duplicate id', () => {
    assert.throws(() => new CommandManager({ commandTimeoutMs: 0 }), /commandTimeoutMs/);
    const manager = new CommandManager();
    manager.submit(relay(), 0);
    assert.throws(() => manager.submit(relay(), 0), /already in flight/);
  });
});
