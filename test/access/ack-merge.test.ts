import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IConnackPacket } from 'mqtt-packet';
import { PendingMerge, mergeConnack, mergeSuback, mergeUnsuback } from '../../src/access/ack-merge.ts';
import { Upstream } from '../../src/access/failover.ts';
import { ConnectReturnCode, ReasonCode } from '../../src/protocol/reason-codes.ts';
import { FakeClock } from './fake-clock.ts';

const ok4: IConnackPacket = { cmd: 'connack', sessionPresent: true, returnCode: 0 };
const refused4: IConnackPacket = {
  cmd: 'connack',
  sessionPresent: false,
  returnCode: ConnectReturnCode.NotAuthorized,
};

test('CONNACK merge: accepted when one broker accepts; session present only if every accepting broker has it', () => {
  const r = mergeConnack([ok4, { ...ok4, sessionPresent: false }], false);
  assert.deepEqual(r.accepted, [Upstream.Broker1, Upstream.Broker2]);
  assert.equal(r.connack.returnCode, ConnectReturnCode.Accepted);
  assert.equal(r.connack.sessionPresent, false);
  const one = mergeConnack([refused4, ok4], false);
  assert.deepEqual(one.accepted, [Upstream.Broker2]);
  assert.equal(one.connack.sessionPresent, true);
  const down = mergeConnack([undefined, ok4], false);
  assert.deepEqual(down.accepted, [Upstream.Broker2]);
});

test('CONNACK merge: both refuse → Broker1’s code; nobody answers → server unavailable; v5 properties are the common ground', () => {
  const both = mergeConnack(
    [refused4, { ...refused4, returnCode: ConnectReturnCode.BadUserNameOrPassword }],
    false,
  );
  assert.equal(both.connack.returnCode, ConnectReturnCode.NotAuthorized);
  assert.equal(both.connack.sessionPresent, false); // [MQTT-3.2.2-6]
  assert.equal(
    mergeConnack([undefined, undefined], false).connack.returnCode,
    ConnectReturnCode.ServerUnavailable,
  );
  assert.equal(mergeConnack([undefined, undefined], true).connack.reasonCode, ReasonCode.ServerUnavailable);
  const v5 = mergeConnack(
    [
      {
        cmd: 'connack',
        sessionPresent: false,
        reasonCode: 0,
        properties: { receiveMaximum: 20, maximumQoS: 1, topicAliasMaximum: 10 },
      },
      {
        cmd: 'connack',
        sessionPresent: false,
        reasonCode: 0,
        properties: { receiveMaximum: 100, retainAvailable: false },
      },
    ],
    true,
  );
  assert.deepEqual(v5.connack.properties, {
    receiveMaximum: 20,
    maximumQoS: 1,
    retainAvailable: false,
    topicAliasMaximum: 0,
  });
});

test('SUBACK merge: granted if any broker granted (highest QoS), else Broker1’s failure; nobody: requested', () => {
  assert.deepEqual(
    mergeSuback(
      [
        [1, 0x80, 0x87, 2],
        [0, 0x80, 0x80, 0x80],
      ],
      [1, 1, 1, 2],
    ),
    [1, 0x80, 0x87, 2],
  );
  assert.deepEqual(mergeSuback([[0x80], [2]], [2]), [2]);
  assert.deepEqual(mergeSuback([undefined, [1]], [2]), [1]);
  assert.deepEqual(mergeSuback([undefined, undefined], [2, 0]), [2, 0]);
});

test('UNSUBACK merge: success if any broker had it, else "no subscription existed", else Broker1’s code', () => {
  assert.deepEqual(
    mergeUnsuback(
      [
        [0x11, 0x87, 0x80],
        [0, 0x11, 0x87],
      ],
      3,
    ),
    [0, 0x11, 0x80],
  );
  assert.deepEqual(mergeUnsuback([undefined, [0x11]], 1), [0x11]);
});

test('pending merge: complete when all answered, when one lost, or merge-wait after the first yes, or at the deadline', () => {
  const clock = new FakeClock();
  const both = new PendingMerge<number>([Upstream.Broker1, Upstream.Broker2], clock, 500, 5000);
  both.reply(Upstream.Broker1, 1, true);
  assert.equal(both.isComplete(), false);
  assert.equal(both.nextDeadline(), clock.t + 500);
  clock.advance(500);
  assert.equal(both.isComplete(), true, 'Broker2 slow: answer with Broker1 alone');
  const lost = new PendingMerge<number>([Upstream.Broker1, Upstream.Broker2], clock, 500, 5000);
  lost.reply(Upstream.Broker2, 1, false);
  lost.lost(Upstream.Broker1);
  assert.equal(lost.isComplete(), true);
  const silent = new PendingMerge<number>([Upstream.Broker1], clock, 500, 5000);
  clock.advance(4999);
  assert.equal(silent.isComplete(), false);
  clock.advance(1);
  assert.equal(silent.isComplete(), true);
  assert.equal(new PendingMerge<number>([], clock, 1, 1).isComplete(), true);
});
