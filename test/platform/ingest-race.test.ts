// Two instances on one store, a slow one and a fast one: a data group's first copy is still being stored
// by the slow instance when its resend (`re`) reaches the fast one. Both find it missing and both insert;
// the store's key keeps one copy, and only the instance whose insert created the group publishes its
// readings (docs/architecture.md "Takeover when an instance dies"). Both acknowledge it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';
import { RecordingDownlink, tempStore, toyFrame, toySource, withInsertReadings } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

const GW = 'gw-race';
const UP = `mqiot/gw/${GW}/up`;

/** The real store, except that insertReadings waits at a gate the test opens. */
function gatedStore(real: PlatformStore, gate: { reached: boolean; open: Promise<void> }): PlatformStore {
  return withInsertReadings(real, async (insert, ...args) => {
    gate.reached = true;
    await gate.open;
    return insert(...args);
  });
}

describe('a slow instance and a resend on another: the group is published once', () => {
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  let slow: Platform;
  let fast: Platform;
  const slowDown = new RecordingDownlink();
  const fastDown = new RecordingDownlink();
  const notified = { slow: 0, fast: 0 };
  let openGate: () => void = () => undefined;
  const gate = { reached: false, open: new Promise<void>((resolve) => (openGate = resolve)) };

  before(async () => {
    ({ store, cleanup } = await tempStore());
    const contracts = new ContractRegistry(store, toySource);
    await contracts.load();
    const start = async (s: PlatformStore, downlink: RecordingDownlink) => {
      const platform = new Platform({}, { store: s, contracts, secretHashing: mosquittoHashing });
      await platform.start({ timers: false });
      platform.attach(downlink);
      return platform;
    };
    slow = await start(gatedStore(store, gate), slowDown);
    fast = await start(store, fastDown);
    slow.subscribe((n) => n.type === 'telemetry' && notified.slow++);
    fast.subscribe((n) => n.type === 'telemetry' && notified.fast++);
  });

  after(async () => {
    openGate();
    await slow?.stop();
    await fast?.stop();
    await cleanup();
  });

  it('both store-check and insert; only the insert that created the group publishes it', async () => {
    const birth: Envelope = { v: 1, k: 'birth', gw: GW, seq: 1, ts: Date.now(), epoch: 'e1', devices: [] };
    await fast.handleUplink(UP, encodeEnvelope(birth));
    await slow.handleUplink(UP, encodeEnvelope(birth));
    const now = Date.now();
    const group = (re: boolean): Envelope => ({
      v: 1,
      k: 'data',
      gw: GW,
      seq: 2,
      ts: now,
      ack: true,
      ...(re ? { re: true } : {}),
      frames: [0, 1, 2].map((j) => ({
        dev: 't-1',
        c: 'toy-temp',
        ts: now + j,
        seq: j,
        raw: toyFrame(0xa1, j),
      })),
    });
    // the first copy: checked, decoded, and held just before its insert
    const first = slow.handleUplink(UP, encodeEnvelope(group(false)));
    await waitFor('the slow instance at its insert', () => gate.reached);
    // its resend on the other instance: not in the store yet, so stored and published there
    await fast.handleUplink(UP, encodeEnvelope(group(true)));
    assert.equal(fastDown.telemetry().length, 3);
    assert.equal(notified.fast, 3);
    // the slow insert goes through: the key keeps one copy, and it publishes nothing
    openGate();
    await first;
    assert.equal(slowDown.telemetry().length, 0, 'the slow instance did not create the group: no telemetry');
    assert.equal(notified.slow, 0, 'nor any notification (rules, live view)');
    assert.equal(await store.countPoints('t-1'), 3, 'one copy stored');
    // both acknowledge it: the group is stored, whichever insert created it
    assert.deepEqual(
      slowDown.down('data-ack').map((e) => (e.k === 'data-ack' ? e.acks : [])),
      [[2]],
    );
    assert.deepEqual(
      fastDown.down('data-ack').map((e) => (e.k === 'data-ack' ? e.acks : [])),
      [[2]],
    );
  });
});
