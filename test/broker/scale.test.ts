/**
 * 100,000 subscriptions through the real engine: every publish reaches exactly its subscriber and
 * unsubscribing leaves nothing behind. How fast that is belongs to bench/broker (a timed assertion here
 * would fail on a busy machine, not on a slow broker); the bounds below only catch a complexity
 * regression (e.g. a linear scan per subscribe), at 10× what a quiet machine needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../src/broker/index.ts';

test('100,000 subscriptions: subscribe and route stay correct, with no quadratic cost', async () => {
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
  assert.ok(subscribeMs < 60_000, `100k subscribes took ${subscribeMs} ms`);
  assert.ok(routeMs < 30_000, `20k publishes took ${routeMs} ms`);
  for (const c of clients) c.close();
  assert.equal(broker.stats.subscriptions, 0);
  await broker.close();
});
