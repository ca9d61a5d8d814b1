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

test('matching does not slow down with the number of subscriptions (100,000 vs 1,000)', () => {
  // Not a time limit (the machine may be busy): the cost of a match in a tree a hundred times larger,
  // against a small one measured the same way. A scan of the subscriptions would be ~100× slower.
  const tree = (n: number) => {
    const t = new TopicTree<E>();
    for (let i = 0; i < n; i++) add(t, `site/${i % 100}/dev/${i}/+`, `c${i}`);
    add(t, 'site/7/#', 'watcher');
    return t;
  };
  const small = tree(1_000);
  const big = tree(100_000);
  const time = (t: TopicTree<E>, n: number) => {
    const start = process.hrtime.bigint();
    let found = 0;
    for (let i = 0; i < 10_000; i++) found += matches(t, `site/${i % 100}/dev/${i % n}/temp`).length;
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, found };
  };
  let best = { small: Infinity, big: Infinity };
  for (let round = 0; round < 3; round++) {
    const s = time(small, 1_000);
    const b = time(big, 100_000);
    assert.equal(s.found, 10_000 + 100);
    assert.equal(b.found, 10_000 + 100);
    best = { small: Math.min(best.small, s.ms), big: Math.min(best.big, b.ms) };
  }
  assert.ok(
    best.big < best.small * 20,
    `10,000 matches: ${best.big} ms with 100,000 subscriptions, ${best.small} ms with 1,000`,
  );
});
