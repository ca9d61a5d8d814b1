import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isValidTopicFilter,
  isValidTopicName,
  parseSharedFilter,
  topicMatches,
} from '../../src/protocol/topic.ts';
import { ConnectReturnCode, ReasonCode, toConnectReturnCode } from '../../src/protocol/reason-codes.ts';

test('[MQTT-3.3.2-2] topic names carry no wildcards and are not empty', () => {
  assert.equal(isValidTopicName('a/b'), true);
  assert.equal(isValidTopicName('/'), true);
  assert.equal(isValidTopicName(''), false);
  assert.equal(isValidTopicName('a/+'), false);
  assert.equal(isValidTopicName('a/#'), false);
  assert.equal(isValidTopicName('a\u0000b'), false);
});

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] wildcards only as whole levels, # last', () => {
  for (const ok of ['#', '+', 'a/#', '+/+', '/+', 'a/+/c', '$SYS/#'])
    assert.equal(isValidTopicFilter(ok), true, ok);
  for (const bad of ['', 'a#', 'a/#/b', 'a+', '+a/b', 'a/b#'])
    assert.equal(isValidTopicFilter(bad), false, bad);
});

test('[MQTT-4.8.2-1] shared filters split into group and filter; bad ones are null', () => {
  assert.deepEqual(parseSharedFilter('$share/g/a/+'), { group: 'g', filter: 'a/+' });
  assert.equal(parseSharedFilter('a/b'), undefined);
  assert.equal(parseSharedFilter('$share/g'), null);
  assert.equal(parseSharedFilter('$share//a'), null);
  assert.equal(parseSharedFilter('$share/g+/a'), null);
});

test('[MQTT-4.7.2-1] matching with the $-rule', () => {
  assert.equal(topicMatches('a/#', 'a'), true);
  assert.equal(topicMatches('a/+', 'a/b'), true);
  assert.equal(topicMatches('a/+', 'a/b/c'), false);
  assert.equal(topicMatches('#', '$SYS/x'), false);
  assert.equal(topicMatches('+/x', '$SYS/x'), false);
  assert.equal(topicMatches('$SYS/#', '$SYS/x'), true);
  assert.equal(topicMatches('+/+', '/a'), true);
});

test('[MQTT-3.2.2-6] v5 refusal codes map to 3.1.1 return codes', () => {
  assert.equal(toConnectReturnCode(ReasonCode.NotAuthorized), ConnectReturnCode.NotAuthorized);
  assert.equal(
    toConnectReturnCode(ReasonCode.BadUserNameOrPassword),
    ConnectReturnCode.BadUserNameOrPassword,
  );
  assert.equal(
    toConnectReturnCode(ReasonCode.ClientIdentifierNotValid),
    ConnectReturnCode.IdentifierRejected,
  );
  assert.equal(toConnectReturnCode(ReasonCode.ServerBusy), ConnectReturnCode.ServerUnavailable);
});
