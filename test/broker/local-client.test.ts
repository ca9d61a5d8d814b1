/** In-process clients share routing with network clients (rumqttd link/local.rs idea). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalMessage } from '../../src/broker/index.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

let tb: TestBroker;
before(async () => {
  tb = await startBroker();
});
after(() => tb.close());

test('a local client receives messages from network clients and vice versa', async () => {
  const local = tb.broker.createLocalClient('platform');
  const got: LocalMessage[] = [];
  local.subscribe('dev/+/up', { qos: 1 }, (m) => got.push(m));
  const net = await tb.connect({ protocolVersion: 5, clientId: 'gw' });
  const down = collect(net);
  await net.subscribeAsync('dev/1/down', { qos: 1 });
  await net.publishAsync('dev/1/up', 'reading', { qos: 1, properties: { contentType: 'text/plain' } });
  await waitFor('got.length === 1', () => got.length === 1);
  assert.equal(got[0]?.topic, 'dev/1/up');
  assert.equal(got[0]?.payload.toString(), 'reading');
  assert.equal(got[0]?.qos, 1);
  assert.equal(got[0]?.properties?.contentType, 'text/plain');
  local.publish('dev/1/down', Buffer.from('cmd'), { qos: 1 });
  await waitFor('down.length === 1', () => down.length === 1);
  assert.equal(down[0]?.payload, 'cmd');
  local.close();
});

test('local clients get retained messages, unsubscribe, and use shared subscriptions', () => {
  tb.broker.publish({ topic: 'cfg/a', payload: Buffer.from('v1'), retain: true });
  const a = tb.broker.createLocalClient('la');
  const b = tb.broker.createLocalClient('lb');
  const ga: string[] = [];
  const gb: string[] = [];
  a.subscribe('cfg/#', { qos: 0 }, (m) => ga.push(`${m.payload}:${m.retain}`));
  assert.deepEqual(ga, ['v1:true']);
  a.unsubscribe('cfg/#');
  a.subscribe('$share/ingest/work', { qos: 1 }, (m) => ga.push(m.payload.toString()));
  b.subscribe('$share/ingest/work', { qos: 1 }, (m) => gb.push(m.payload.toString()));
  for (let i = 0; i < 6; i++) tb.broker.publish({ topic: 'work', payload: Buffer.from(String(i)), qos: 1 });
  assert.equal(ga.length - 1 + gb.length, 6);
  assert.ok(gb.length > 0 && ga.length > 1);
  a.close();
  b.close();
  assert.throws(() => a.publish('x', Buffer.from('')), /closed/);
});

test('a throwing local subscriber does not break routing for others', () => {
  const bad = tb.broker.createLocalClient('bad');
  const good = tb.broker.createLocalClient('good');
  const seen: string[] = [];
  bad.subscribe('boom', { qos: 0 }, () => {
    throw new Error('subscriber bug');
  });
  good.subscribe('boom', { qos: 0 }, (m) => seen.push(m.topic));
  tb.broker.publish({ topic: 'boom', payload: Buffer.from('x') });
  assert.deepEqual(seen, ['boom']);
  bad.close();
  good.close();
});
