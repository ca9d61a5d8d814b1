// Linkage rules, pure layer: the rule document's validation and the per-device state machine on a fake
// clock (thresholds, `for`, hysteresis and edge triggering, cooldown, presence, bad readings).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/platform/clock.ts';
import { parseRule, RuleValidationError } from '../../src/platform/rules/rule.ts';
import { evaluate, RuleMachine, type MachineSpec } from '../../src/platform/rules/rule-machine.ts';
import { renderPayload, renderText } from '../../src/platform/rules/template.ts';

const S = 1000;

function machine(spec: Partial<MachineSpec> & Pick<MachineSpec, 'condition'>) {
  return new RuleMachine({ forMs: 0, cooldownMs: 0, ...spec });
}

/** Feeds values one second apart; returns the values that fired. */
function feed(m: RuleMachine, clock: FakeClock, values: unknown[]): unknown[] {
  const fired: unknown[] = [];
  for (const v of values) {
    const f = m.observe(v as number, clock.advance(S));
    if (f) fired.push(f.value);
  }
  return fired;
}

/** A firing's value and time (its trigger time `ts` is checked in rules-once.test.ts). */
const valueAt = (f: { value: unknown; at: number } | undefined) => f && { value: f.value, at: f.at };

describe('rule machine', () => {
  it('each comparison op against numbers, strings and booleans', () => {
    assert.equal(evaluate({ op: '>', value: 5 }, 5.1), true);
    assert.equal(evaluate({ op: '>', value: 5 }, 5), false);
    assert.equal(evaluate({ op: '>=', value: 5 }, 5), true);
    assert.equal(evaluate({ op: '<', value: 5 }, 4.9), true);
    assert.equal(evaluate({ op: '<=', value: 5 }, 5.1), false);
    assert.equal(evaluate({ op: '==', value: 'tripped' }, 'tripped'), true);
    assert.equal(evaluate({ op: '!=', value: 'tripped' }, 'closed'), true);
    assert.equal(evaluate({ op: '==', value: true }, true), true);
    assert.equal(evaluate({ op: '==', value: 1 }, 1), true);
  });

  it('bad readings (a string or NaN for a numeric condition, a type mismatch) are not comparable', () => {
    assert.equal(evaluate({ op: '>', value: 5 }, '9'), undefined);
    assert.equal(evaluate({ op: '>', value: 5 }, Number.NaN), undefined);
    assert.equal(evaluate({ op: '<', value: 5 }, true), undefined);
    assert.equal(evaluate({ op: '==', value: 1 }, '1'), undefined);
  });

  it('threshold without `for` fires on the first crossing, once, and again only after the condition ended', () => {
    const clock = new FakeClock(0);
    const m = machine({ condition: { op: '>', value: 5 } });
    assert.deepEqual(feed(m, clock, [3, 4, 6, 7, 8, 6]), [6]);
    assert.equal(m.state, 'fired');
    assert.deepEqual(feed(m, clock, [5, 9, 9]), [9]);
  });

  it('`for`: fires only after the condition held continuously for the whole window, on tick', () => {
    const clock = new FakeClock(0);
    const m = machine({ condition: { op: '>', value: 5 }, forMs: 30 * S });
    assert.equal(m.observe(6, clock.now()), undefined);
    assert.equal(m.state, 'pending');
    assert.equal(m.nextDeadline(), 30 * S);
    clock.advance(29 * S);
    assert.equal(m.tick(clock.now()), undefined);
    // a dip below the threshold breaks the window: it starts again at the next crossing
    assert.equal(m.observe(4, clock.now()), undefined);
    assert.equal(m.state, 'idle');
    assert.equal(m.tick(clock.advance(5 * S)), undefined);
    assert.equal(m.observe(7, clock.now()), undefined);
    const start = clock.now();
    assert.equal(m.observe(8, clock.advance(10 * S)), undefined);
    assert.equal(m.tick(start + 30 * S - 1), undefined);
    assert.deepEqual(valueAt(m.tick(start + 30 * S)), { value: 8, at: start + 30 * S });
    assert.equal(m.state, 'fired');
    assert.equal(m.tick(start + 60 * S), undefined);
  });

  it('`for`: a reading arriving after the window fires at once (no tick needed)', () => {
    const m = machine({ condition: { op: '>', value: 5 }, forMs: 10 * S });
    m.observe(6, 0);
    assert.deepEqual(valueAt(m.observe(6.5, 10 * S)), { value: 6.5, at: 10 * S });
  });

  it('hysteresis: on below 5, re-armed only above 8 (values between do nothing)', () => {
    const clock = new FakeClock(0);
    const m = machine({ condition: { op: '<', value: 5 }, reset: { op: '>', value: 8 } });
    assert.deepEqual(feed(m, clock, [10, 4.9, 4, 6, 4, 7.9, 3]), [4.9]);
    assert.equal(m.state, 'fired');
    assert.deepEqual(feed(m, clock, [8.1, 6, 4.5]), [4.5]);
  });

  it('a reset condition that overlaps the condition re-arms without firing on the same reading', () => {
    const clock = new FakeClock(0);
    const m = machine({ condition: { op: '<', value: 5 }, reset: { op: '<', value: 8 } });
    assert.deepEqual(feed(m, clock, [4, 4, 4]), [4, 4]);
    // fire (4), re-arm on the next reading (4 < 8) without firing, fire again on the third
    assert.equal(m.state, 'fired');
  });

  it('cooldown: a new crossing inside the cooldown waits for its end, then fires if still true', () => {
    const m = machine({ condition: { op: '>', value: 5 }, cooldownMs: 60 * S });
    assert.deepEqual(valueAt(m.observe(6, 0)), { value: 6, at: 0 });
    m.observe(4, 10 * S); // re-armed
    assert.equal(m.observe(7, 20 * S), undefined);
    assert.equal(m.state, 'pending');
    assert.equal(m.nextDeadline(), 60 * S);
    assert.equal(m.tick(59 * S), undefined);
    assert.deepEqual(valueAt(m.tick(60 * S)), { value: 7, at: 60 * S });
    // a crossing that ends inside the cooldown is dropped
    m.observe(4, 61 * S);
    m.observe(9, 70 * S);
    m.observe(3, 80 * S);
    assert.equal(m.tick(200 * S), undefined);
    assert.equal(m.state, 'idle');
  });

  it('bad readings neither fire nor break a `for` window nor re-arm', () => {
    const m = machine({ condition: { op: '>', value: 5 }, forMs: 10 * S });
    m.observe(6, 0);
    assert.equal(m.observe('error' as unknown as number, 5 * S), undefined);
    assert.equal(m.state, 'pending');
    assert.deepEqual(valueAt(m.tick(10 * S)), { value: 6, at: 10 * S });
    assert.equal(m.observe(Number.NaN, 11 * S), undefined);
    assert.equal(m.state, 'fired');
  });

  it('`changes`: the first value is the baseline, each different value fires, cooldown applies', () => {
    const m = machine({ condition: { op: 'changes' }, cooldownMs: 10 * S });
    assert.equal(m.observe('closed', 0), undefined);
    assert.equal(m.observe('closed', 1 * S), undefined);
    assert.deepEqual(valueAt(m.observe('open', 2 * S)), { value: 'open', at: 2 * S });
    assert.equal(m.observe('closed', 5 * S), undefined, 'inside the cooldown');
    assert.deepEqual(valueAt(m.observe('open', 20 * S)), { value: 'open', at: 20 * S });
  });

  it('offline for 60 s fires once; online re-arms; a short outage does not fire', () => {
    const m = machine({ condition: { op: 'offline' }, forMs: 60 * S });
    assert.equal(m.observe('offline', 0), undefined);
    assert.equal(m.observe('online', 30 * S), undefined);
    assert.equal(m.tick(90 * S), undefined);
    m.observe('offline', 100 * S);
    assert.deepEqual(valueAt(m.tick(160 * S)), { value: 'offline', at: 160 * S });
    assert.equal(m.observe('offline', 170 * S), undefined);
    m.observe('online', 200 * S);
    assert.equal(m.state, 'idle');
    const online = machine({ condition: { op: 'online' } });
    assert.deepEqual(valueAt(online.observe('online', 5)), { value: 'online', at: 5 });
  });
});

describe('rule document', () => {
  const valid = {
    id: 'trip-relay-2',
    name: 'Trip relay 2 on overload',
    when: { device: 'meter-1', point: 'power_active_total', op: '>', value: 5, for: 30 },
    then: [{ type: 'command', device: 'relay-2', action: 'trip' }],
  };

  it('accepts a valid rule and fills in defaults (enabled, name)', () => {
    const rule = parseRule(valid);
    assert.equal(rule.enabled, true);
    assert.equal(rule.when.for, 30);
    const minimal = parseRule({ ...valid, name: undefined, enabled: false });
    assert.equal(minimal.name, 'trip-relay-2');
    assert.equal(minimal.enabled, false);
    assert.ok(Object.isFrozen(rule));
  });

  const cases: [string, unknown, string][] = [
    ['not an object', [], 'rule'],
    ['bad id', { ...valid, id: 'a b' }, 'id'],
    ['unknown top-level field', { ...valid, extra: 1 }, 'extra'],
    ['missing when', { ...valid, when: undefined }, 'when'],
    ['unknown op', { ...valid, when: { ...valid.when, op: '=>' } }, 'when.op'],
    ['string value for >', { ...valid, when: { ...valid.when, value: '5' } }, 'when.value'],
    ['point missing', { ...valid, when: { device: 'm', op: '<', value: 1 } }, 'when.point'],
    ['point with offline', { ...valid, when: { device: 'm', op: 'offline', point: 'x' } }, 'when.point'],
    ['negative for', { ...valid, when: { ...valid.when, for: -1 } }, 'when.for'],
    ['for with changes', { ...valid, when: { device: 'm', point: 'p', op: 'changes', for: 3 } }, 'when.for'],
    ['reset with a bad op', { ...valid, when: { ...valid.when, reset: { op: 'changes' } } }, 'when.reset.op'],
    ['reset without value', { ...valid, when: { ...valid.when, reset: { op: '<' } } }, 'when.reset.value'],
    ['contract without *', { ...valid, when: { ...valid.when, contract: 'x' } }, 'when.contract'],
    ['cooldown not a number', { ...valid, cooldown: '10' }, 'cooldown'],
    ['no actions', { ...valid, then: [] }, 'then'],
    ['unknown action type', { ...valid, then: [{ type: 'mail' }] }, 'then[0].type'],
    ['command without action', { ...valid, then: [{ type: 'command', device: 'r' }] }, 'then[0].action'],
    [
      'publish to a gateway downlink',
      { ...valid, then: [{ type: 'event' }, { type: 'publish', topic: 'mqiot/gw/g/down', payload: 'x' }] },
      'then[1].topic',
    ],
    ['publish wildcard', { ...valid, then: [{ type: 'publish', topic: 'a/#' }] }, 'then[0].topic'],
    ['publish qos 3', { ...valid, then: [{ type: 'publish', topic: 'a', qos: 3 }] }, 'then[0].qos'],
  ];
  for (const [what, input, field] of cases) {
    it(`refuses ${what}, naming '${field}'`, () => {
      assert.throws(
        () => parseRule(input),
        (err: unknown) =>
          err instanceof RuleValidationError && err.field === field && err.message.startsWith(field),
      );
    });
  }
});

describe('rule templates', () => {
  const ctx = { rule: 'r1', device: 'sensor-21', point: 'temperature_3', value: 4.5, ts: 1000 };
  it('renders placeholders in text', () => {
    assert.equal(
      renderText('{{device}}/{{point}} = {{ value }} ({{rule}}, {{nope}})', ctx),
      'sensor-21/temperature_3 = 4.5 (r1, {{nope}})',
    );
  });
  it('an object payload keeps the value typed where a member is exactly one placeholder', () => {
    assert.deepEqual(JSON.parse(renderPayload({ t: '{{value}}', msg: 'at {{ts}}', n: 1 }, ctx)), {
      t: 4.5,
      msg: 'at 1000',
      n: 1,
    });
  });
});
