import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetainedIndex } from '../../src/broker/retained-index.ts';
import { topicMatches } from '../../src/protocol/topic.ts';
import type { Message } from '../../src/broker/types.ts';

const msg = (topic: string): Message => ({
  topic,
  payload: Buffer.from(topic),
  qos: 0,
  retain: true,
  properties: undefined,
  expiresAt: 0,
  origin: '',
});

/** Deterministic pseudo-random numbers (xorshift), so a failure names a reproducible case. */
function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

const NAMES = ['a', 'b', '', '$SYS', '$x', 'dev', 'c'];

test('[MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.2-1] wildcard matches equal topicMatches over random topics, sets and deletes', () => {
  const next = rng(42);
  const index = new RetainedIndex();
  const live = new Set<string>();
  const topic = () =>
    Array.from({ length: 1 + next(4) }, (_, i) => NAMES[next(i === 0 ? NAMES.length : 3)]!).join('/');
  const filter = () => {
    const levels = Array.from({ length: 1 + next(4) }, () => ['+', 'a', 'b', '', '$SYS', 'dev'][next(6)]!);
    if (next(3) === 0) levels.push('#');
    return levels.join('/');
  };
  for (let round = 0; round < 3000; round++) {
    const t = topic();
    if (next(4) === 0) {
      assert.equal(index.delete(t), live.delete(t), `delete ${t}`);
    } else {
      index.set(t, msg(t));
      live.add(t);
    }
    const f = filter();
    const got = index
      .match(f)
      .map((m) => m.topic)
      .sort();
    const want = [...live].filter((x) => topicMatches(f, x)).sort();
    assert.deepEqual(got, want, `filter '${f}' after round ${round}`);
    assert.equal(index.size, live.size);
  }
  assert.ok(live.size > 10, `${live.size} topics kept`);
});

test('a deleted topic leaves no empty levels behind, and a parent topic keeps its own message', () => {
  const index = new RetainedIndex();
  index.set('a/b/c', msg('a/b/c'));
  index.set('a', msg('a'));
  assert.deepEqual(
    index
      .match('a/#')
      .map((m) => m.topic)
      .sort(),
    ['a', 'a/b/c'],
  );
  assert.equal(index.delete('a/b/c'), true);
  assert.equal(index.delete('a/b/c'), false);
  assert.deepEqual(
    index.match('a/#').map((m) => m.topic),
    ['a'],
  );
  assert.deepEqual(index.match('a/+/+'), []);
  const root = (index as unknown as { root: { children: Map<string, { children?: Map<string, unknown> }> } })
    .root;
  assert.equal(root.children.get('a')?.children?.size, 0, 'the emptied b/c levels were pruned');
  assert.equal(index.get('a')?.topic, 'a');
});

test('100 000 retained topics: each wildcard filter gets exactly its branch', () => {
  const index = new RetainedIndex();
  for (let site = 0; site < 100; site++)
    for (let dev = 0; dev < 1000; dev++)
      index.set(`site${site}/dev${dev}/state`, msg(`site${site}/dev${dev}/state`));
  let n = 0;
  for (let i = 0; i < 100; i++) n += index.match(`site${i}/+/state`).length;
  assert.equal(n, 100 * 1000);
  assert.equal(index.match('site7/dev7/#').length, 1);
  assert.equal(index.match('+/dev999/state').length, 100);
});
