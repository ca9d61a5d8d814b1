// The pure rules behind gateway identity: the seq window, who may speak for a gateway, and the log
// limiter on a fake clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { acceptsBirthAnchor, judgeSeq } from '../../src/platform/gateways/seq-window.ts';
import { judgeProvenance } from '../../src/platform/gateways/provenance.ts';
import { LogLimiter } from '../../src/platform/log-limiter.ts';

describe('seq window', () => {
  const W = 10_000;
  it('applies new seqs within the window, ignores resends, refuses jumps', () => {
    const state = { applied: 100, birth: null };
    assert.equal(judgeSeq(101, state, W), 'apply');
    assert.equal(judgeSeq(100 + W, state, W), 'apply');
    assert.equal(judgeSeq(101 + W, state, W), 'too-far');
    assert.equal(judgeSeq(100, state, W), 'duplicate');
    assert.equal(judgeSeq(50, state, W, true), 'apply', 'a hole’s resend');
    assert.equal(judgeSeq(W + 1, { applied: null, birth: null }, W), 'too-far', 'a new epoch starts from 0');
  });
  it('a trusted birth moves the reference; an unverified one only within the window', () => {
    const state = { applied: 100, birth: 50_000 };
    assert.equal(judgeSeq(49_999, state, W), 'apply');
    assert.equal(acceptsBirthAnchor(1e12, { applied: 100, birth: null }, W, true), true);
    assert.equal(acceptsBirthAnchor(1e12, { applied: 100, birth: null }, W, false), false);
    assert.equal(acceptsBirthAnchor(150, { applied: 100, birth: null }, W, false), true);
  });
});

describe('provenance', () => {
  const net = (username: string | undefined) => ({ clientId: 'c', username, local: false });
  it('outside lab mode only gw-<id> or a relay speaks for <id>', () => {
    assert.deepEqual(judgeProvenance('a', net('gw-a'), true), { ok: true, trusted: true });
    assert.deepEqual(judgeProvenance('a', net('gw-b'), true), { ok: false, reason: 'another-gateway' });
    assert.deepEqual(judgeProvenance('a', net(undefined), true), { ok: false, reason: 'anonymous' });
    assert.deepEqual(judgeProvenance('a', net('bob'), true), { ok: false, reason: 'not-the-gateway' });
    assert.deepEqual(judgeProvenance('a', net('edge-1'), true, ['edge-1']), { ok: true, trusted: true });
    assert.deepEqual(judgeProvenance('a', null, true), { ok: false, reason: 'unknown-publisher' });
  });
  it('lab mode accepts others as unverified, never another gateway; external brokers are trusted', () => {
    assert.deepEqual(judgeProvenance('a', net(undefined), false), { ok: true, trusted: false });
    assert.deepEqual(judgeProvenance('a', net('gw-b'), false), { ok: false, reason: 'another-gateway' });
    assert.deepEqual(judgeProvenance('a', undefined, true), { ok: true, trusted: true });
    assert.deepEqual(judgeProvenance('a', { clientId: 'p', username: undefined, local: true }, true), {
      ok: true,
      trusted: true,
    });
  });
});

describe('LogLimiter', () => {
  it('one line per reason and interval, then the number suppressed', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
    let now = 0;
    const limiter = new LogLimiter(logger, { intervalMs: 1000, now: () => now });
    for (let i = 0; i < 100; i++) limiter.warn('bad', { i }, 'rejected');
    limiter.warn('other', {}, 'rejected');
    assert.equal(lines.length, 2);
    now = 1000;
    limiter.warn('bad', { i: 100 }, 'rejected');
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.suppressed, 99);
  });
});
