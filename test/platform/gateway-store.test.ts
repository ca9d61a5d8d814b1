// The store's part of gateway identity, on SQLite and PostgreSQL: stream marks written in the readings'
// transaction (raised, never lowered; a failed batch leaves them as they were) and gateway credentials.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlatformStore, ReadingInput } from '../../src/platform/store/index.ts';
import { tempPostgresStore, tempStore, testPostgresUrl } from './helpers.ts';

const reading = (groupSeq: number, deviceId = 'd1'): ReadingInput => ({
  gatewayId: 'g1',
  epoch: 'e1',
  groupSeq,
  frameIndex: 0,
  deviceId,
  seq: groupSeq,
  ts: 1_700_000_000_000 + groupSeq,
  receivedAt: 1_700_000_000_000 + groupSeq,
  contractId: null,
  raw: Uint8Array.of(groupSeq & 0xff),
  points: [{ name: 'v', value: groupSeq }],
});

function suite(name: string, open: () => Promise<{ store: PlatformStore; cleanup(): Promise<void> }>): void {
  describe(`gateway identity in the ${name} store`, () => {
    it('stream marks: stored with the readings, never lowered, a frames-only store seeds them', async () => {
      const { store, cleanup } = await open();
      try {
        await store.insertReadings([reading(5)]);
        // written before marks were kept: the stored groups are the record
        assert.deepEqual(await store.getStreamMark('g1', 'e1'), {
          gatewayId: 'g1',
          epoch: 'e1',
          appliedSeq: 5,
          birthSeq: null,
        });
        await store.insertReadings(
          [reading(7)],
          [{ gatewayId: 'g1', epoch: 'e1', appliedSeq: 7, birthSeq: null }],
        );
        await store.saveStreamMark({ gatewayId: 'g1', epoch: 'e1', appliedSeq: 6, birthSeq: 40 });
        assert.deepEqual(await store.getStreamMark('g1', 'e1'), {
          gatewayId: 'g1',
          epoch: 'e1',
          appliedSeq: 7,
          birthSeq: 40,
        });
        // one transaction: a batch that fails (a NULL time breaks NOT NULL) keeps the old mark
        const broken = { ...reading(9), ts: null as unknown as number };
        await assert.rejects(
          store.insertReadings([broken], [{ gatewayId: 'g1', epoch: 'e1', appliedSeq: 9, birthSeq: null }]),
        );
        assert.equal((await store.getStreamMark('g1', 'e1')).appliedSeq, 7);
        assert.deepEqual(await store.getStreamMark('g1', 'other'), {
          gatewayId: 'g1',
          epoch: 'other',
          appliedSeq: null,
          birthSeq: null,
        });
      } finally {
        await cleanup();
      }
    });

    it('credentials: insert once, replace on rotation, delete on revocation', async () => {
      const { store, cleanup } = await open();
      try {
        const row = { gatewayId: 'g1', hash: '$7$101$aaaa$bbbb', createdAt: 1, updatedAt: 1 };
        assert.equal(await store.insertGatewayCredential(row), true);
        assert.equal(await store.insertGatewayCredential({ ...row, hash: 'x' }), false);
        assert.equal((await store.getGatewayCredential('g1'))?.hash, row.hash);
        await store.putGatewayCredential({ ...row, hash: '$7$101$cccc$dddd', updatedAt: 2 });
        assert.deepEqual(await store.listGatewayCredentials(), [
          { ...row, hash: '$7$101$cccc$dddd', updatedAt: 2 },
        ]);
        assert.equal(await store.deleteGatewayCredential('g1'), true);
        assert.equal(await store.deleteGatewayCredential('g1'), false);
        assert.equal(await store.getGatewayCredential('g1'), undefined);
      } finally {
        await cleanup();
      }
    });
  });
}

suite('SQLite', tempStore);
const pgUrl = testPostgresUrl('gateway identity PostgreSQL store tests');
if (pgUrl) suite('PostgreSQL', () => tempPostgresStore(pgUrl, 'mqiot_gwid'));
