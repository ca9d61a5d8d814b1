import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../src/gateway/outbox.ts';

function tempDb(): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-outbox-'));
  return { path: join(dir, 'q.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('outbox: seq numbers, order and epoch survive a restart (breakpoint resume)', () => {
  const db = tempDb();
  try {
    const a = new Outbox({ path: db.path, maxMessages: 10, whenFull: 'drop-oldest' });
    const epoch = a.epoch;
    assert.equal(a.reserveSeq(), 1);
    for (let i = 0; i < 3; i++) a.append('data', (seq) => Buffer.from(`m${seq}`));
    a.remove(2);
    a.close();
    const b = new Outbox({ path: db.path, maxMessages: 10, whenFull: 'drop-oldest' });
    assert.equal(b.epoch, epoch);
    assert.equal(b.depth, 2);
    assert.deepEqual(
      b.peekAfter(0, 10).map((r) => [r.seq, r.payload.toString()]),
      [
        [3, 'm3'],
        [4, 'm4'],
      ],
    );
    assert.equal(b.nextSeq, 5);
    assert.deepEqual(
      b.peekAfter(3, 10).map((r) => r.seq),
      [4],
    );
    b.close();
  } finally {
    db.cleanup();
  }
});

test('outbox: full with drop-oldest discards the oldest and counts it', () => {
  const db = tempDb();
  try {
    const q = new Outbox({ path: db.path, maxMessages: 2, whenFull: 'drop-oldest' });
    q.append('data', () => Buffer.from('1'));
    q.append('data', () => Buffer.from('2'));
    const r = q.append('data', () => Buffer.from('3'));
    assert.deepEqual('dropped' in r && r.dropped, 1);
    assert.deepEqual(
      q.peekAfter(0, 10).map((row) => row.seq),
      [2, 3],
    );
    assert.equal(q.dropped, 1);
    q.close();
  } finally {
    db.cleanup();
  }
});

test('outbox: full with drop-newest refuses the new message and keeps the old ones', () => {
  const db = tempDb();
  try {
    const q = new Outbox({ path: db.path, maxMessages: 1, whenFull: 'drop-newest' });
    q.append('data', () => Buffer.from('1'));
    assert.deepEqual(
      q.append('data', () => Buffer.from('2')),
      { refused: true },
    );
    assert.equal(q.depth, 1);
    assert.equal(q.dropped, 1);
    assert.equal(q.nextSeq, 2, 'a refused message takes no seq');
    q.close();
  } finally {
    db.cleanup();
  }
});
