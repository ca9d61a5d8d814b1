import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTree, type SharedGroup } from '../../src/broker/topic-tree.ts';

interface E {
  owner: string;
  key: string;
  filter: string;
}

function matches(tree: TopicTree<E>, topic: string): string[] {
  const out: string[] = [];
  tree.match(topic, {
    onSubscription: (e) => out.push(`${e.key}:${e.filter}`),
    onSharedGroup: (g: SharedGroup<E>) => out.push(`share:${g.name}:${g.filter}:${g.members.size}`),
  });
  return out.sort();
}

const add = (t: TopicTree<E>, filter: string, key: string, group?: string): boolean =>
  t.add(filter, { owner: key, key, filter }, group);

test('[MQTT-4.7.1-2] + and # match per level; # matches the parent', () => {
  const t = new TopicTree<E>();
  add(t, 'a/b', 'c1');
  add(t, 'a/+', 'c2');
  add(t, 'a/#', 'c3');
  add(t, '#', 'c4');
  add(t, '+/+/c', 'c5');
  assert.deepEqual(matches(t, 'a/b'), ['c1:a/b', 'c2:a/+', 'c3:a/#', 'c4:#']);
  assert.deepEqual(matches(t, 'a'), ['c3:a/#', 'c4:#']);
  assert.deepEqual(matches(t, 'x/y/c'), ['c4:#', 'c5:+/+/c']);
});

test('[MQTT-4.7.2-1] leading wildcards do not match $ topics', () => {
  const t = new TopicTree<E>();
  add(t, '#', 'c1');
  add(t, '+/x', 'c2');
  add(t, '$SYS/#', 'c3');
  add(t, '$SYS/+', 'c4');
  assert.deepEqual(matches(t, '$SYS/x'), ['c3:$SYS/#', 'c4:$SYS/+']);
});

test('add replaces per key; remove prunes; shared groups hang off their filter', () => {
  const t = new TopicTree<E>();
  assert.equal(add(t, 'a', 'c1'), true);
  assert.equal(add(t, 'a', 'c1'), false);
  add(t, 'a', 'c2', 'g');
  add(t, 'a', 'c3', 'g');
  assert.deepEqual(matches(t, 'a'), ['c1:a', 'share:g:a:2']);
  assert.equal(t.size, 3);
  assert.equal(t.remove('a', 'c2', 'g'), true);
  assert.equal(t.remove('a', 'c3', 'g'), true);
  assert.equal(t.remove('a', 'c1'), true);
  assert.equal(t.remove('a', 'c1'), false);
  assert.equal(t.size, 0);
  assert.deepEqual(matches(t, 'a'), []);
});

test('stays fast with 100,000 subscriptions', () => {
  const t = new TopicTree<E>();
  for (let i = 0; i < 100_000; i++) add(t, `site/${i % 100}/dev/${i}/+`, `c${i}`);
  add(t, 'site/7/#', 'watcher');
  const start = process.hrtime.bigint();
  let found = 0;
  for (let i = 0; i < 10_000; i++) found += matches(t, `site/${i % 100}/dev/${i}/temp`).length;
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.equal(found, 10_000 + 100);
  assert.ok(ms < 2_000, `10,000 matches took ${ms} ms`);
});
