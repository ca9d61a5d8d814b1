// Alarms, pure layer: the alarm rule's validation, the condition machine on a fake clock (threshold
// with `for` and a clear threshold, rate of change, offline for N seconds, decode errors in a window),
// and the book of active alarms (one per originator and type, acknowledge, clear, history).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/platform/clock.ts';
import { AlarmBook } from '../../src/platform/alarms/alarm-book.ts';
import { AlarmRuleError, parseAlarmRule, ruleMatches } from '../../src/platform/alarms/alarm-rule.ts';
import type { AlarmRecord, RaiseInput } from '../../src/platform/alarms/alarm.ts';
import { ConditionMachine, type Verdict } from '../../src/platform/alarms/condition.ts';

const S = 1000;
const T0 = Date.UTC(2026, 0, 1);

function rule(doc: Record<string, unknown>) {
  return parseAlarmRule({ id: 'r1', ...doc });
}

function ruleError(doc: Record<string, unknown>): string {
  try {
    parseAlarmRule({ id: 'r1', ...doc });
  } catch (err) {
    assert.ok(err instanceof AlarmRuleError);
    return err.message;
  }
  assert.fail('expected a validation error');
}

/** Feeds readings one second apart (device time = platform time); returns the verdict kinds. */
function feed(m: ConditionMachine, clock: FakeClock, values: number[]): string[] {
  return values.map((v) => {
    const now = clock.advance(S);
    return m.observeReading(v, now, now)?.kind ?? '-';
  });
}

describe('alarm rule', () => {
  it('fills the defaults: type = id, severity major, every device, enabled', () => {
    const r = rule({ condition: 'threshold', point: 't', op: '>', value: 40 });
    assert.equal(r.type, 'r1');
    assert.equal(r.name, 'r1');
    assert.equal(r.severity, 'major');
    assert.equal(r.device, '*');
    assert.equal(r.subject, 'device');
    assert.equal(r.enabled, true);
    const d = rule({ condition: 'decode-errors' });
    assert.equal(d.count, 1);
    assert.equal(d.within, 600);
  });

  it('every error names its field', () => {
    assert.match(ruleError({ condition: 'hot' }), /^condition: must be one of threshold, rate/);
    assert.match(ruleError({ condition: 'threshold', op: '>', value: 1 }), /^point: is required/);
    assert.match(
      ruleError({ condition: 'threshold', point: 't', op: '>', value: '5' }),
      /^value: must be a number/,
    );
    assert.match(ruleError({ condition: 'threshold', point: 't', op: '~', value: 5 }), /^op: must be one of/);
    assert.match(
      ruleError({ condition: 'threshold', point: 't', op: '>', value: 5, clear: { op: '<', value: 'x' } }),
      /^clear\.value: must be a number/,
    );
    assert.match(
      ruleError({ condition: 'rate', point: 't', op: '==', value: 5 }),
      /^op: must be one of > >= < <=/,
    );
    assert.match(
      ruleError({ condition: 'offline', severity: 'fatal' }),
      /^severity: must be one of critical/,
    );
    assert.match(ruleError({ condition: 'threshold', subject: 'gateway' }), /^subject: 'gateway' only with/);
    assert.match(
      ruleError({ condition: 'offline', point: 't' }),
      /^point: only for condition threshold or rate/,
    );
    assert.match(ruleError({ condition: 'offline', for: -1 }), /^for: must be a number from 0/);
    assert.match(ruleError({ condition: 'decode-errors', count: 0 }), /^count: must be an integer from 1/);
    assert.match(ruleError({ condition: 'offline', colour: 'red' }), /^colour: unknown field/);
    assert.match(ruleError({ id: 'a b', condition: 'offline' }), /^id: letters, digits/);
  });

  it('matches an originator by id, contract and model', () => {
    const r = rule({ condition: 'offline', contract: 'dlt645-2007', model: 'DDS666' });
    assert.equal(ruleMatches(r, 'device', 'm1', { contract: 'dlt645-2007', model: 'DDS666' }), true);
    assert.equal(ruleMatches(r, 'device', 'm1', { contract: 'dlt645-2007', model: null }), false);
    assert.equal(ruleMatches(r, 'device', 'm1', { contract: 'modbus-tcp', model: 'DDS666' }), false);
    assert.equal(ruleMatches(r, 'gateway', 'm1'), false);
    const one = rule({ condition: 'offline', subject: 'gateway', device: 'gw-a' });
    assert.equal(ruleMatches(one, 'gateway', 'gw-a'), true);
    assert.equal(ruleMatches(one, 'gateway', 'gw-b'), false);
    assert.equal(ruleMatches({ ...one, enabled: false }, 'gateway', 'gw-a'), false);
  });
});

describe('condition machine', () => {
  it('threshold: raises once per crossing, clears when the condition ends', () => {
    const clock = new FakeClock(T0);
    const m = new ConditionMachine(rule({ condition: 'threshold', point: 't', op: '>', value: 40 }));
    assert.deepEqual(feed(m, clock, [30, 41, 45, 50, 39, 38, 42]), [
      '-',
      'raise',
      '-',
      '-',
      'clear',
      '-',
      'raise',
    ]);
  });

  it('threshold with `for` and a clear threshold (hysteresis)', () => {
    const clock = new FakeClock(T0);
    const m = new ConditionMachine(
      rule({ condition: 'threshold', point: 't', op: '>', value: 40, for: 3, clear: { op: '<', value: 35 } }),
    );
    // holds at 1 s, 2 s, 3 s: raised on the reading 3 s after the first
    assert.deepEqual(feed(m, clock, [41, 42, 43, 44]), ['-', '-', '-', 'raise']);
    assert.equal(m.state, 'raised');
    // under 40 but not under 35: stays raised; under 35: clears
    assert.deepEqual(feed(m, clock, [38, 36, 34]), ['-', '-', 'clear']);
    // a broken `for` window starts over
    assert.deepEqual(feed(m, clock, [41, 30, 41, 42]), ['-', '-', '-', '-']);
    assert.equal(m.nextDeadline(), clock.now() - S + 3 * S);
    // time alone completes the window
    assert.equal(m.tick(clock.advance(S)), undefined);
    assert.equal(m.tick(clock.advance(S))?.kind, 'raise');
  });

  it('threshold: a reading that cannot be compared neither raises nor clears', () => {
    const clock = new FakeClock(T0);
    const m = new ConditionMachine(rule({ condition: 'threshold', point: 't', op: '>', value: 40 }));
    assert.equal(m.observeReading(50, T0, clock.advance(S))?.kind, 'raise');
    assert.equal(m.observeReading('n/a', T0, clock.advance(S)), undefined);
    assert.equal(m.observeReading(Number.NaN, T0, clock.advance(S)), undefined);
    assert.equal(m.state, 'raised');
  });

  it('rate: change per minute between consecutive readings (device time); out of order ignored', () => {
    const clock = new FakeClock(T0);
    const m = new ConditionMachine(rule({ condition: 'rate', point: 'e', op: '>', value: 10 }));
    const at = (v: number, ts: number): Verdict | undefined => m.observeReading(v, ts, clock.advance(S));
    assert.equal(at(100, T0), undefined); // baseline
    assert.equal(at(105, T0 + 60 * S), undefined); // 5 per minute
    assert.equal(at(120, T0 + 120 * S)?.kind, 'raise'); // 15 per minute
    assert.equal(at(0, T0 + 60 * S), undefined); // older than the previous: no rate from it
    assert.equal(at(122, T0 + 180 * S)?.kind, 'clear'); // 2 per minute
    const perSecond = new ConditionMachine(
      rule({ condition: 'rate', point: 'e', op: '<', value: -1, per: 1 }),
    );
    assert.equal(perSecond.observeReading(50, T0, T0), undefined);
    assert.deepEqual(perSecond.observeReading(40, T0 + 5 * S, T0), { kind: 'raise', value: -2, at: T0 });
  });

  it('offline: raised after `for` seconds offline (from when it went offline), cleared when back', () => {
    const clock = new FakeClock(T0);
    const m = new ConditionMachine(rule({ condition: 'offline', for: 60 }));
    assert.equal(m.observePresence(false, T0, clock.now()), undefined);
    assert.equal(m.nextDeadline(), T0 + 60 * S);
    clock.advance(59 * S);
    assert.equal(m.tick(clock.now()), undefined);
    clock.advance(S);
    assert.deepEqual(m.tick(clock.now()), { kind: 'raise', value: 'offline', at: T0 + 60 * S });
    assert.equal(m.tick(clock.advance(S)), undefined, 'raised once');
    assert.deepEqual(m.observePresence(true, clock.now(), clock.now()), { kind: 'clear', at: clock.now() });
    // back online within the window: nothing at all
    m.observePresence(false, clock.now(), clock.now());
    assert.equal(m.observePresence(true, clock.advance(10 * S), clock.now()), undefined);
    assert.equal(m.tick(clock.advance(100 * S)), undefined);
    // offline since long before (a restart): raised at once
    const late = new ConditionMachine(rule({ condition: 'offline', for: 60 }));
    assert.equal(late.observePresence(false, T0, T0 + 3600 * S)?.kind, 'raise');
  });

  it('decode errors: `count` failures within `within` s raise; a whole window without one clears', () => {
    const clock = new FakeClock(T0);
    const m = new ConditionMachine(rule({ condition: 'decode-errors', count: 3, within: 60 }));
    assert.equal(m.observeFrame(false, clock.advance(S)), undefined);
    assert.equal(m.observeFrame(true, clock.advance(S)), undefined);
    assert.equal(m.observeFrame(false, clock.advance(S)), undefined);
    clock.advance(60 * S); // the first two fall out of the window
    assert.equal(m.observeFrame(false, clock.now()), undefined);
    assert.equal(m.observeFrame(false, clock.advance(S)), undefined);
    assert.deepEqual(m.observeFrame(false, clock.advance(S)), { kind: 'raise', value: 3, at: clock.now() });
    assert.equal(m.observeFrame(false, clock.advance(S)), undefined, 'raised once');
    const last = clock.now();
    assert.equal(m.nextDeadline(), last + 60 * S);
    assert.equal(m.tick(last + 59 * S), undefined);
    assert.equal(m.tick(last + 60 * S)?.kind, 'clear');
  });

  it('restored raised (an alarm active before a restart): clears when the condition ends, never raises twice', () => {
    const m = new ConditionMachine(rule({ condition: 'threshold', point: 't', op: '>', value: 40 }));
    m.restoreRaised(T0);
    assert.equal(m.observeReading(50, T0, T0 + S), undefined);
    assert.equal(m.observeReading(30, T0, T0 + 2 * S)?.kind, 'clear');
  });
});

describe('alarm book', () => {
  const input = (severity: RaiseInput['severity'] = 'major'): RaiseInput => ({
    originatorType: 'device',
    originatorId: 'meter-1',
    type: 'overheat',
    severity,
    ruleId: 'r1',
    message: 'too hot',
    value: 41,
  });
  const stored = (book: AlarmBook, decision: ReturnType<AlarmBook['raise']>, id: number): AlarmRecord => {
    assert.ok(decision);
    const alarm = { ...decision.alarm, id } as AlarmRecord;
    book.stored(alarm);
    return alarm;
  };

  it('one active alarm per (originator, type): raising again is no new alarm', () => {
    const book = new AlarmBook();
    const first = book.raise(input(), T0);
    assert.equal(first?.kind, 'create');
    const alarm = stored(book, first, 1);
    assert.equal(alarm.active, true);
    assert.equal(alarm.acknowledged, false);
    assert.deepEqual(alarm.history, [
      { at: T0, action: 'raised', by: 'condition', severity: 'major', value: 41 },
    ]);
    assert.equal(book.raise(input(), T0 + S), undefined, 'same severity: nothing to write');
    const escalated = book.raise(input('critical'), T0 + 2 * S);
    assert.equal(escalated?.kind, 'update');
    assert.equal(escalated.alarm.severity, 'critical');
    assert.equal((escalated.alarm as AlarmRecord).id, 1);
    assert.equal(escalated.alarm.history.at(-1)?.action, 'updated');
    // another type, or another device, is another alarm
    assert.equal(book.raise({ ...input(), type: 'other' }, T0)?.kind, 'create');
    assert.equal(book.raise({ ...input(), originatorId: 'meter-2' }, T0)?.kind, 'create');
  });

  it('acknowledge and clear, each once, with who and when; a cleared key can be raised anew', () => {
    const book = new AlarmBook();
    const alarm = stored(book, book.raise(input(), T0), 7);
    const acked = book.acknowledge(alarm, 'alice', T0 + S);
    assert.ok(acked);
    assert.deepEqual(
      [acked.acknowledged, acked.ackBy, acked.ackAt, acked.active],
      [true, 'alice', T0 + S, true],
    );
    book.stored(acked);
    assert.equal(book.acknowledge(alarm, 'bob', T0 + 2 * S), undefined, 'the book knows it is acknowledged');
    const cleared = book.clear(alarm, 'bob', T0 + 3 * S);
    assert.ok(cleared);
    assert.deepEqual([cleared.active, cleared.clearedBy, cleared.clearedAt], [false, 'bob', T0 + 3 * S]);
    assert.deepEqual(
      cleared.history.map((h) => `${h.action}:${h.by}`),
      ['raised:condition', 'acknowledged:alice', 'cleared:bob'],
    );
    book.stored(cleared);
    assert.equal(book.size, 0);
    assert.equal(book.clear(cleared, 'bob', T0 + 4 * S), undefined);
    assert.equal(book.raise(input(), T0 + 5 * S)?.kind, 'create');
  });

  it('a condition clears only the alarm its own rule raised', () => {
    const book = new AlarmBook();
    stored(book, book.raise(input(), T0), 1);
    const key = { originatorType: 'device' as const, originatorId: 'meter-1', type: 'overheat' };
    assert.equal(book.clearByCondition(key, 'r2', 'condition', T0 + S), undefined);
    const cleared = book.clearByCondition(key, 'r1', 'condition', T0 + S);
    assert.equal(cleared?.clearedBy, 'condition');
  });

  it('loads the active alarms of the store', () => {
    const book = new AlarmBook();
    const a = { ...book.raise(input(), T0)!.alarm, id: 1 } as AlarmRecord;
    const old = { ...a, id: 2, active: false };
    book.load([a, old]);
    assert.equal(book.size, 1);
    assert.equal(book.activeFor(a)?.id, 1);
  });
});
