import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';
import { runStoreSuite } from './store-suite.ts';

runStoreSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-store-'));
  const store = await openSqliteStore(join(dir, 'platform.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const T0 = Date.UTC(2026, 0, 1);

/** `n` batches of one reading each of one series (`m-1`/`p` = i at T0 + i s): a quiet site's ingest. */
async function oneReadingBatches(store: PlatformStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.insertReadings([
      {
        gatewayId: 'gw-1',
        groupSeq: i,
        frameIndex: 0,
        deviceId: 'm-1',
        seq: i,
        ts: T0 + i * 1000,
        receivedAt: T0 + i * 1000,
        contractId: null,
        raw: Uint8Array.of(i & 0xff),
        points: [{ name: 'p', value: i }],
      },
    ]);
  }
}

describe('SQLite sample blocks', () => {
  it('merges the small blocks of one-reading batches, so an hour of a series stays a few rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-store-'));
    const path = join(dir, 'platform.db');
    const store = await openSqliteStore(path);
    try {
      await oneReadingBatches(store, 100);
      const db = new Database(path, { readonly: true });
      const { blocks, n } = db.prepare('SELECT COUNT(*) AS blocks, SUM(n) AS n FROM sample_blocks').get() as {
        blocks: number;
        n: number;
      };
      db.close();
      assert.equal(n, 100);
      assert.ok(blocks <= 16, `${blocks} blocks for 100 readings of one series in one hour`);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('merges small blocks by size tier: a reading is rewritten about once per tier, not at every merge', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-store-'));
    const path = join(dir, 'platform.db');
    const store = await openSqliteStore(path);
    try {
      const N = 1000;
      await oneReadingBatches(store, N);
      // Merging every small block of the hour each time rewrote the growing block again and again:
      // about 8 rewrites per reading for these 1,000 (16 + 32 + … per 512); by tier at most 3.
      const rewritten = store.mergedReadings();
      assert.ok(rewritten <= 3 * N, `${rewritten} readings rewritten by merges for ${N} stored`);
      assert.ok(rewritten >= N, `${rewritten}: the small blocks were merged at all`);
      const db = new Database(path, { readonly: true });
      const { blocks } = db.prepare('SELECT COUNT(*) AS blocks FROM sample_blocks').get() as {
        blocks: number;
      };
      db.close();
      assert.ok(blocks <= 3 * 16, `${blocks} blocks for ${N} readings of one series in one hour`);
      const rows = await store.range({ deviceId: 'm-1', point: 'p', from: T0, to: T0 + N * 1000 });
      assert.deepEqual(
        rows.map((r) => r.value),
        Array.from({ length: N }, (_, i) => i),
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
