// Linkage rules inside the real Platform (in process, fake clock, real SQLite, recording downlink):
// `for` timed by platform ticks, commands through the command service (resends, 3-timeout failure),
// offline/online rules, stale readings, wildcard rules, failing actions, reload and restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import { RULE_ALERT_EVENT, RULE_FIRED_EVENT } from '../../src/platform/rules/rules-engine.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type CmdEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { RecordingDownlink, tempStore, toyFrame, toySource } from './helpers.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const T0 = Date.UTC(2026, 0, 1);
const S = 1000;
const GW = 'gw-r';
const UP = `mqiot/gw/${GW}/up`;
const TEMP = 0xa1; // toy-temp: point 'temperature' = byte / 10
const HUM = 0xb2; // toy-hum: point 'humidity' = byte / 10

describe('rules engine in the platform (fake clock, real SQLite)', () => {
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let platform: Platform;
  let seq = 1;
  const frameSeq = new Map<string, number>();
  const clock = new FakeClock(T0);
  const downlink = new RecordingDownlink();

  const send = async (envelope: Envelope) => {
    platform.handleUplink(UP, encodeEnvelope(envelope));
    await platform.whenIdle();
    await platform.rules.whenIdle();
  };
  /** One reading of `dev`; `ts` defaults to now (device time). */
  const reading = async (dev: string, marker: number, byte: number, ts = clock.now()) => {
    const n = frameSeq.get(dev) ?? 0;
    frameSeq.set(dev, n + 1);
    const c = marker === TEMP ? 'toy-temp' : 'toy-hum';
    await send({
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: [{ dev, c, ts, seq: n, raw: toyFrame(marker, byte) }],
    });
  };
  const tick = async (ms: number) => {
    clock.advance(ms);
    await platform.tick();
    await platform.rules.whenIdle();
  };
  const cmds = (dev?: string) =>
    downlink.down('cmd').filter((e) => !dev || (e as CmdEnvelope).dev === dev) as CmdEnvelope[];
  const firings = (id: string) => platform.rules.history(id);
  const answer = (cmd: CmdEnvelope) =>
    send({ v: 1, k: 'cmd-result', gw: GW, seq: ++seq, ts: clock.now(), id: cmd.id, dev: cmd.dev, ok: true });

  before(async () => {
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    platform = new Platform(
      {
        commandTimeoutMs: 1000,
        gatewayValidIntervalMs: 3_600_000,
        heartbeatIntervalMs: 3_600_000,
        tickMs: 100,
      },
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
      devices: [
        { dev: 'meter-1', c: 'toy-temp', pollMs: 10_000 },
        { dev: 'relay-2', c: 'toy-hum', pollMs: 3_600_000 },
        { dev: 'sensor-7', c: 'toy-hum', pollMs: 3_600_000 },
      ],
    });
  });
  after(async () => {
    await platform.stop();
    await cleanup();
  });

  it('`for` 30 s: the command goes down only after the condition held 30 s, once, and is executed on feedback', async () => {
    await platform.rules.create({
      id: 'trip-relay-2',
      when: { device: 'meter-1', point: 'temperature', op: '>', value: 5, for: 30 },
      then: [{ type: 'command', device: 'relay-2', action: 'set', params: { value: 0 } }],
    });
    await reading('meter-1', TEMP, 60);
    await tick(10 * S);
    await reading('meter-1', TEMP, 70);
    await tick(19 * S);
    assert.equal(cmds('relay-2').length, 0, 'not before 30 s');
    await tick(1 * S);
    assert.equal(cmds('relay-2').length, 1);
    const cmd = cmds('relay-2')[0]!;
    assert.deepEqual([cmd.action, cmd.params], ['set', { value: 0 }]);
    const [fired] = await firings('trip-relay-2');
    assert.equal(fired?.kind, RULE_FIRED_EVENT);
    assert.equal(fired?.detail.value, 7, 'the latest value while the condition held');
    assert.equal(fired?.detail.commandId, cmd.id);
    assert.equal(fired?.ts, T0 + 30 * S);
    await answer(cmd);
    assert.equal((await store.getCommand(cmd.id))?.state, 'executed');
    // still above: no second command, however long it stays
    await reading('meter-1', TEMP, 80);
    await tick(60 * S);
    assert.equal(cmds('relay-2').length, 1);
    assert.equal(platform.rules.status('trip-relay-2')['meter-1'], 'fired');
    await platform.rules.setEnabled('trip-relay-2', false);
  });

  it("a rule's command nobody answers is resent and fails after 3 timeouts (the command service's rule)", async () => {
    await platform.rules.create({
      id: 'hum-low',
      when: { device: 'sensor-7', point: 'humidity', op: '<', value: 3 },
      then: [{ type: 'command', device: 'relay-2', action: 'set', params: { value: 1 } }],
    });
    const before = cmds('relay-2').length;
    await reading('sensor-7', HUM, 20);
    const [fired] = await firings('hum-low');
    const id = fired?.detail.commandId as string;
    for (let i = 0; i < 3; i++) await tick(1000);
    assert.equal(cmds('relay-2').length - before, 3);
    assert.equal((await store.getCommand(id))?.state, 'failed');
    assert.equal((await firings('hum-low')).length, 1);
  });

  it('offline for 20 s records an alert on the device; it re-arms when the device is back', async () => {
    await platform.rules.create({
      id: 'meter-offline',
      when: { device: 'meter-1', op: 'offline', for: 20 },
      then: [{ type: 'event', message: '{{device}} is {{value}}' }],
    });
    await reading('meter-1', TEMP, 10);
    // poll 10 s, 3 missed polls: offline after 30 s of silence
    for (let i = 0; i < 4; i++) await tick(10 * S);
    assert.equal((await store.getDevice('meter-1'))?.online, false);
    assert.equal((await firings('meter-offline')).length, 0, 'not before 20 s offline');
    for (let i = 0; i < 2; i++) await tick(10 * S);
    const history = await firings('meter-offline');
    assert.equal(history.length, 1);
    const alerts = await store.listEvents({
      subjectType: 'device',
      subjectId: 'meter-1',
      kind: RULE_ALERT_EVENT,
    });
    assert.equal(alerts[0]?.detail.message, 'meter-1 is offline');
    await tick(60 * S);
    assert.equal((await firings('meter-offline')).length, 1, 'once per outage');
    assert.equal(platform.rules.status('meter-offline')['meter-1'], 'fired');
    await reading('meter-1', TEMP, 10);
    assert.equal(platform.rules.status('meter-offline')['meter-1'], 'idle');
  });

  it('a stale reading (replayed from a gateway buffer) does not fire', async () => {
    await platform.rules.create({
      id: 'hot',
      when: { device: 'meter-1', point: 'temperature', op: '>', value: 20 },
      then: [{ type: 'event' }],
    });
    await reading('meter-1', TEMP, 250, clock.now() - 10 * 60 * S);
    assert.equal((await firings('hot')).length, 0);
    await reading('meter-1', TEMP, 250);
    assert.equal((await firings('hot')).length, 1);
  });

  it('wildcard rule: one state per device, narrowed by contract; a failing action is recorded and the others run', async () => {
    await platform.rules.create({
      id: 'any-hum-high',
      when: { device: '*', contract: 'toy-hum', point: 'humidity', op: '>=', value: 9 },
      then: [
        { type: 'command', device: 'no-such-device', action: 'set' },
        { type: 'command', device: '{{device}}', action: 'set', params: { value: 2 } },
      ],
    });
    await reading('sensor-7', HUM, 95);
    await reading('relay-2', HUM, 90);
    await reading('meter-1', TEMP, 200); // another contract: not watched
    await reading('sensor-7', HUM, 99);
    const history = await firings('any-hum-high');
    assert.deepEqual(history.map((e) => e.detail.subject).sort(), ['relay-2', 'sensor-7']);
    const actions = history[0]!.detail.actions as { error?: string; commandId?: string; device: string }[];
    assert.match(actions[0]!.error ?? '', /no-such-device.*not found/);
    assert.ok(actions[1]!.commandId);
    assert.equal(actions[1]!.device, history[0]!.detail.subject);
  });

  it('a rule changed in the store by another instance is picked up on reload; rules survive a restart', async () => {
    const row = await store.getRule('hot');
    assert.ok(row);
    await store.saveRule({
      ...row,
      definition: { ...row.definition, enabled: false },
      updatedAt: row.updatedAt + 1,
    });
    await tick(30 * S);
    await reading('meter-1', TEMP, 10);
    await reading('meter-1', TEMP, 250);
    assert.equal((await firings('hot')).length, 1, 'disabled elsewhere: no new firing');
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    const again = new Platform({}, { store, contracts, secretHashing: mosquittoHashing, clock });
    await again.start({ timers: false });
    assert.deepEqual(
      (await again.rules.list()).map((r) => [r.id, r.enabled]),
      [
        ['any-hum-high', true],
        ['hot', false],
        ['hum-low', true],
        ['meter-offline', true],
        ['trip-relay-2', false],
      ],
    );
    await again.stop();
  });
});
