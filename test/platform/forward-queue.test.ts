// The edge's forward queue on its own: its depth follows every insert and delete (kept in memory, read
// from the file at open), a full queue drops its oldest message, and a data-ack removes every copy.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ForwardQueue } from '../../src/app/edge/forward-queue.ts';
import { tempDir } from '../support/temp.ts';

test('forward queue: depth, drop-oldest when full, data-acks, and the depth after a reopen', (t) => {
  const path = join(tempDir(t, 'mqiot-forward-'), 'forward.db');
  const queue = new ForwardQueue(path, 3);
  const up = (n: number) => Buffer.from([n]);
  const ids = [1, 2, 3].map((n) => queue.push('mqiot/gw/a/up', up(n), { gw: 'a', seq: n }).id);
  assert.equal(queue.depth, 3);
  const fourth = queue.push('mqiot/gw/a/up', up(4), { gw: 'a', seq: 4 });
  assert.equal(fourth.dropped, ids[0], 'the oldest went');
  assert.equal(queue.depth, 3);
  assert.equal(queue.dropped, 1);
  queue.push('mqiot/gw/a/up', up(4), { gw: 'a', seq: 4 }); // the gateway's resend, queued twice
  assert.deepEqual(
    queue.peek(10).map((m) => m.payload[0]),
    [3, 4, 4],
  );
  assert.equal(queue.removeAcked('a', [4]).length, 2, 'both copies of seq 4');
  assert.equal(queue.depth, 1);
  queue.remove(999); // not queued: nothing changes
  assert.equal(queue.depth, 1);
  queue.close();

  const again = new ForwardQueue(path, 3);
  t.after(() => again.close());
  assert.equal(again.depth, 1, 'read from the file');
  const [left] = again.peek(1);
  assert.equal(left?.payload[0], 3);
  assert.ok(left.id < again.firstIdOfRun, 'what was queued before counts as sent before');
});
