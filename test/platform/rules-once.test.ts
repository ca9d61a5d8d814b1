// The pure parts of "rules fire once across edge and cloud" and of the edge replica: firing keys, the
// firing ledger on a fake clock, the trigger time and priming of a rule machine, replica section
// versions; then the engine in a real Platform (fake clock, real SQLite): a firing an edge reported is
// not acted on again, and a rule's command takes its id from the firing's key.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';
import { ReplicaStore } from '../../src/app/edge/replica-store.ts';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import {
  changedSections,
  formatHave,
  parseHave,
  section,
  sectionVersion,
} from '../../src/platform/replica/sections.ts';
import { firingCommandId, firingKey } from '../../src/platform/rules/firing-key.ts';
import { FiringLedger } from '../../src/platform/rules/firing-ledger.ts';
import { MachineState, RuleMachine } from '../../src/platform/rules/rule-machine.ts';
import { RuleOp } from '../../src/platform/rules/rule.ts';
import { RULE_FIRED_EVENT } from '../../src/platform/rules/rules-engine.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type CmdEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { makeTempDir } from '../support/temp.ts';
import { RecordingDownlink, tempStore, toyFrame, toySource } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('firing keys and the ledger', () => {
  const cause = { rule: 'r1', device: 'pm-1', point: 'holding.3', ts: T0 };

  it('the same cause gives the same key on every platform; any other cause another key', () => {
    assert.equal(firingKey(cause), firingKey({ ...cause }));
    assert.match(firingKey(cause), /^f-[0-9a-f]{32}$/);
    for (const other of [{ rule: 'r2' }, { device: 'pm-2' }, { point: 'holding.4' }, { ts: T0 + 1 }])
      assert.notEqual(firingKey({ ...cause, ...other }), firingKey(cause));
    assert.equal(firingCommandId(firingKey(cause), 0), `cmd-${firingKey(cause)}-0`);
    assert.notEqual(firingCommandId('f-x', 0), firingCommandId('f-x', 1));
  });

  it('the first claim wins, a second is refused with the first; keys expire after the TTL (fake clock)', () => {
    const ledger = new FiringLedger({ ttlMs: 1000, size: 10 });
    assert.equal(ledger.claim('k1', 'edge:a', T0), undefined);
    assert.deepEqual(ledger.claim('k1', 'local', T0 + 10), { key: 'k1', by: 'edge:a', at: T0 });
    assert.equal(ledger.get('k1', T0 + 1000)?.by, 'edge:a');
    assert.equal(ledger.get('k1', T0 + 1001), undefined, 'expired');
    assert.equal(ledger.claim('k1', 'local', T0 + 1001), undefined, 'claimable again once forgotten');
  });

  it('keeps at most `size` keys, dropping the oldest', () => {
    const ledger = new FiringLedger({ ttlMs: 60_000, size: 2 });
    for (const k of ['a', 'b', 'c']) ledger.claim(k, 'local', T0);
    assert.equal(ledger.size, 2);
    assert.equal(ledger.get('a', T0), undefined);
    assert.ok(ledger.get('c', T0));
  });
});

describe('rule machine: trigger time and priming', () => {
  const spec = { condition: { op: RuleOp.Gt, value: 10 }, forMs: 5000, cooldownMs: 0 };

  it('a firing names the device time of the reading that opened the `for` window', () => {
    const m = new RuleMachine(spec);
    assert.equal(m.observe(20, T0, T0 - 300), undefined);
    assert.equal(m.observe(25, T0 + 3000, T0 + 2700), undefined);
    assert.deepEqual(m.tick(T0 + 5000), { value: 25, at: T0 + 5000, ts: T0 - 300 });
  });

  it('primed with a value that holds, it is `fired`: the next reading still above does not fire', () => {
    const m = new RuleMachine({ ...spec, forMs: 0 });
    m.prime(50);
    assert.equal(m.state, MachineState.Fired);
    assert.equal(m.observe(60, T0), undefined);
    assert.equal(m.observe(5, T0 + 1), undefined, 're-armed');
    assert.equal(m.observe(60, T0 + 2, T0 + 2)?.ts, T0 + 2);
    const idle = new RuleMachine({ ...spec, forMs: 0 });
    idle.prime(5);
    assert.equal(idle.state, MachineState.Idle);
    assert.ok(idle.observe(60, T0));
  });

  it('acted on elsewhere: `fired` with the cooldown counted from then', () => {
    const m = new RuleMachine({ ...spec, forMs: 0, cooldownMs: 10_000 });
    m.actedElsewhere(50, T0);
    assert.equal(m.state, MachineState.Fired);
    assert.equal(m.observe(60, T0 + 1), undefined);
    assert.equal(m.observe(5, T0 + 2), undefined, 're-armed');
    assert.equal(m.observe(60, T0 + 3), undefined, 'in the cooldown');
    assert.ok(m.tick(T0 + 10_000));
  });

  it('`changes` takes the primed value as its baseline', () => {
    const m = new RuleMachine({ condition: { op: RuleOp.Changes }, forMs: 0, cooldownMs: 0 });
    m.prime(1);
    assert.equal(m.observe(1, T0), undefined);
    assert.deepEqual(m.observe(2, T0, T0 - 5), { value: 2, at: T0, ts: T0 - 5 });
  });
});

describe('replica sections and the replica on disk', () => {
  it('a section version follows its content; only changed sections are sent', () => {
    const a = section([{ id: 'd1' }]);
    assert.equal(a.version, sectionVersion([{ id: 'd1' }]));
    assert.notEqual(a.version, sectionVersion([{ id: 'd2' }]));
    const all = { devices: a, contracts: section([]), rules: section([{ id: 'r' }]), state: section([1]) };
    const have = parseHave(formatHave({ devices: a.version, rules: all.rules.version, contracts: 'old' }));
    assert.deepEqual(Object.keys(changedSections(all, have)).sort(), ['contracts', 'state']);
    assert.deepEqual(parseHave('devices:x,bogus:y,rules,:z'), { devices: 'x' });
  });

  it('keeps each section with its version across a reopen and counts revisions', (t) => {
    const tmp = makeTempDir('mqiot-replica-');
    t.after(() => tmp.cleanup());
    const path = join(tmp.dir, 'replica.db');
    const first = new ReplicaStore(path);
    first.put('devices', section([{ id: 'd1' }]), T0);
    first.put('devices', section([{ id: 'd1' }, { id: 'd2' }]), T0 + 1);
    first.put('rules', section([]), T0 + 2);
    first.close();
    const again = new ReplicaStore(path);
    t.after(() => again.close());
    assert.deepEqual(again.get('devices')?.items, [{ id: 'd1' }, { id: 'd2' }]);
    assert.deepEqual(again.versions(), {
      devices: sectionVersion([{ id: 'd1' }, { id: 'd2' }]),
      rules: sectionVersion([]),
    });
    assert.equal(again.revision, 3);
  });
});

describe('rules engine: a reported firing is not acted on again (fake clock, real SQLite)', () => {
  const GW = 'gw-o';
  const TEMP = 0xa1; // toy-temp: temperature = byte / 10
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let seq = 1;
  let frameSeq = 0;
  const clock = new FakeClock(T0);
  const downlink = new RecordingDownlink();
  const send = async (envelope: Envelope) => {
    platform.handleUplink(`mqiot/gw/${GW}/up`, encodeEnvelope(envelope));
    await platform.whenIdle();
    await platform.rules.whenIdle();
  };
  const reading = (byte: number, ts: number) =>
    send({
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: [{ dev: 'meter-1', c: 'toy-temp', ts, seq: frameSeq++, raw: toyFrame(TEMP, byte) }],
    });
  const cmds = () => downlink.down('cmd') as CmdEnvelope[];

  before(async () => {
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    platform = new Platform(
      { commandTimeoutMs: 1000, gatewayValidIntervalMs: 3_600_000, heartbeatIntervalMs: 3_600_000 },
      { store, contracts, secretHashing: mosquittoHashing, clock },
    );
    platform.attach(downlink);
    await platform.start({ timers: false });
    await send({
      v: 1,
      k: 'birth',
      gw: GW,
      seq: 1,
      ts: T0,
      epoch: 'e1',
      devices: [{ dev: 'meter-1', c: 'toy-temp', pollMs: 10_000 }],
    });
    await platform.rules.create({
      id: 'hot',
      when: { device: 'meter-1', point: 'temperature', op: '>', value: 5 },
      then: [{ type: 'command', device: 'meter-1', action: 'set', params: { value: 0 } }],
    });
  });
  after(async () => {
    await platform.stop();
    await cleanup();
  });

  it("acts on a reading once, with the command id derived from the firing's key", async () => {
    const ts = clock.now();
    await reading(60, ts);
    const key = firingKey({ rule: 'hot', device: 'meter-1', point: 'temperature', ts });
    assert.equal(cmds().length, 1);
    assert.equal(cmds()[0]!.id, firingCommandId(key, 0));
    const [fired] = await platform.rules.history('hot');
    assert.equal(fired?.detail.key, key);
    assert.equal(fired?.detail.ts, ts);
    await reading(10, clock.now()); // re-arm
  });

  it('a firing reported by an edge is recorded once; the same reading arriving later is not acted on', async () => {
    clock.advance(1000);
    const ts = clock.now() - 500; // read at the site half a second ago
    const key = firingKey({ rule: 'hot', device: 'meter-1', point: 'temperature', ts });
    const report = { key, rule: 'hot', subject: 'meter-1', point: 'temperature', value: 7, ts, at: ts + 10 };
    assert.equal(await platform.rules.recordReported([report], 'edge:site'), 1);
    assert.equal(await platform.rules.recordReported([report], 'edge:site'), 0, 'a resent report');
    const before = cmds().length;
    assert.equal(platform.rules.status('hot')['meter-1'], 'fired', 'the state follows the report');
    await reading(70, ts - 200); // a queued reading still above: no new crossing
    assert.equal(cmds().length, before, 'no command from here');
    // the queued readings re-arm it and cross again on the very reading the edge acted on: its key
    const skipped = platform.rules.skipped;
    await reading(10, ts - 100);
    await reading(70, ts);
    assert.equal(cmds().length, before, 'no command from here');
    assert.equal(platform.rules.skipped, skipped + 1, 'skipped by key');
    assert.equal(platform.rules.status('hot')['meter-1'], 'fired', 'the state follows the reading');
    const history = await platform.rules.history('hot');
    assert.equal(history.filter((e) => e.kind === RULE_FIRED_EVENT).length, 2);
    assert.equal(history[0]?.detail.by, 'edge:site');
    // a later crossing is a new cause: acted on here
    await reading(10, clock.now());
    await reading(90, clock.now());
    assert.equal(cmds().length, before + 1);
  });
});
