// The block a series' readings within one hour are stored in: what goes in comes back, sorted, once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  byHour,
  decodeSampleBlock,
  encodeSampleBlock,
  HOUR_MS,
  sortColumns,
  type SampleColumns,
} from '../../src/platform/store/sample-block.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('sample blocks', () => {
  it('round-trips numbers, booleans, strings and units, with 64-bit times and seqs', () => {
    const c: SampleColumns = {
      ts: [T0, T0 + 1, T0 + 2, T0 + 3],
      seq: [1, 2, 2 ** 40, Number.MAX_SAFE_INTEGER],
      values: [1.5, true, 'on "x"', -0.25],
      units: ['kW', null, null, 'kW'],
    };
    assert.deepEqual(
      decodeSampleBlock(encodeSampleBlock(c)).map((s) => [s.ts, s.seq, s.value, s.num, s.unit]),
      [
        [T0, 1, 1.5, 1.5, 'kW'],
        [T0 + 1, 2, true, 1, null],
        [T0 + 2, 2 ** 40, 'on "x"', null, null],
        [T0 + 3, Number.MAX_SAFE_INTEGER, -0.25, -0.25, 'kW'],
      ],
    );
  });

  it('reads a block from any byte offset (a database row is a slice of a larger buffer)', () => {
    const body = encodeSampleBlock({ ts: [T0], seq: [7], values: [42], units: ['V'] });
    const shifted = Buffer.concat([Buffer.from([1, 2, 3]), body]).subarray(3);
    assert.deepEqual(
      decodeSampleBlock(shifted).map((s) => [s.ts, s.value, s.unit]),
      [[T0, 42, 'V']],
    );
  });

  it('sorts by (time, seq) and keeps a reading that came twice once', () => {
    const c = sortColumns({
      ts: [T0 + 2, T0, T0 + 2, T0],
      seq: [5, 1, 4, 1],
      values: [3, 1, 2, 1],
      units: [null, null, null, null],
    });
    assert.deepEqual(c.ts, [T0, T0 + 2, T0 + 2]);
    assert.deepEqual(c.values, [1, 2, 3]);
  });

  it('splits a run at hour boundaries, so a block never spans two hours', () => {
    const start = Math.floor(T0 / HOUR_MS) * HOUR_MS;
    const c = sortColumns({
      ts: [start + HOUR_MS - 1, start, start + HOUR_MS, start + 2 * HOUR_MS + 5],
      seq: [1, 2, 3, 4],
      values: [1, 2, 3, 4],
      units: [null, null, null, null],
    });
    assert.deepEqual(
      byHour(c).map(([hour, part]) => [hour - start / HOUR_MS, part.values]),
      [
        [0, [2, 1]],
        [1, [3]],
        [2, [4]],
      ],
    );
  });

  it('stores periodic readings in a few bytes each, and reads back every kind of value exactly', () => {
    const n = 1000;
    const c: SampleColumns = { ts: [], seq: [], values: [], units: [] };
    for (let i = 0; i < n; i++) {
      c.ts.push(T0 + i * 1000);
      c.seq.push(500 + i);
      c.values.push(230 + (i % 7));
      c.units.push('V');
    }
    const body = encodeSampleBlock(c);
    assert.equal(body[0], 2, 'the varint layout');
    assert.ok(body.length <= n * 6 + 64, `${body.length} bytes for ${n} readings (25 each before)`);
    const odd: SampleColumns = {
      ts: [T0, T0, T0 + 5, T0 + 3_599_999],
      // a device that restarted counts from 0 again; one that jumped far
      seq: [900, 901, 0, 2 ** 51],
      values: [-0, NaN, -(2 ** 52), 2 ** 52 + 2],
      units: ['a', null, 'b', null],
    };
    const more: SampleColumns = {
      ts: [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5],
      seq: [1, 2, 3, 4, 5, 6],
      values: [Infinity, -Infinity, 0.1, true, false, 'é "x"'],
      units: [null, null, null, null, null, null],
    };
    for (const columns of [c, odd, more]) {
      const block = encodeSampleBlock(columns);
      assert.equal(block[0], 2);
      const back = decodeSampleBlock(block);
      assert.deepEqual(
        back.map((s) => [s.ts, s.seq, s.value, s.unit]),
        columns.ts.map((ts, i) => [ts, columns.seq[i], columns.values[i], columns.units[i]]),
      );
      assert.ok(Object.is(decodeSampleBlock(encodeSampleBlock(odd))[0]!.value, -0), '-0 kept');
      const num = back.map((s) => s.num);
      assert.deepEqual(
        num,
        columns.values.map((v) => (typeof v === 'string' ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v)),
      );
    }
  });

  it('keeps the fixed-width layout for times or seqs a varint cannot hold, and reads both', () => {
    const c: SampleColumns = { ts: [T0 + 0.5, T0 + 1], seq: [1, 2], values: [3, 4], units: ['V', 'V'] };
    const body = encodeSampleBlock(c);
    assert.equal(body[0], 1);
    assert.deepEqual(
      decodeSampleBlock(body).map((s) => [s.ts, s.value]),
      [
        [T0 + 0.5, 3],
        [T0 + 1, 4],
      ],
    );
    const jump = encodeSampleBlock({
      ts: [T0, T0 + 1],
      seq: [0, 2 ** 53 - 1],
      values: [1, 2],
      units: [null, null],
    });
    assert.equal(jump[0], 1);
  });
});
