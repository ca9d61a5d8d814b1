/** Routing stays fast with 100,000 subscriptions (trie + per-topic plans), through the real engine. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../src/broker/index.ts';

test('100,000 subscriptions: subscribe and route stay fast', async () => {
  const broker = new Broker();
  const clients = Array.from({ length: 100 }, (_, i) => broker.createLocalClient(`scale-${i}`));
  let received = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 100_000; i++) {
    clients[i % 100]!.subscribe(`site/${i % 50}/dev/${i}/+`, { qos: 0 }, () => received++);
  }
  const subscribeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(broker.stats.subscriptions, 100_000);
  const t1 = process.hrtime.bigint();
  for (let k = 0; k < 20_000; k++) {
    const i = (k * 7919) % 100_000;
    broker.publish({ topic: `site/${i % 50}/dev/${i}/temp`, payload: Buffer.from('1') });
  }
  const routeMs = Number(process.hrtime.bigint() - t1) / 1e6;
  assert.equal(received, 20_000);
  assert.ok(subscribeMs < 10_000, `100k subscribes took ${subscribeMs} ms`);
  assert.ok(routeMs < 3_000, `20k publishes took ${routeMs} ms`);
  for (const c of clients) c.close();
  assert.equal(broker.stats.subscriptions, 0);
  await broker.close();
});
