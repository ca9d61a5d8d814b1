// The store's part for people on both databases: users, hashed tokens (a deleted user's tokens go
// with them), expiry clean-up, the audit trail's filters and paging, and the command column added to
// a store created before people had accounts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';
import { tempPostgresStore, tempStore, testPostgresUrl } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);

function suite(name: string, open: () => Promise<{ store: PlatformStore; cleanup(): Promise<void> }>): void {
  describe(`auth store (${name})`, () => {
    it('keeps users and tokens; deleting a user deletes their tokens', async () => {
      const { store, cleanup } = await open();
      try {
        const user = {
          username: 'ann',
          passwordHash: 'h',
          role: 'operator' as const,
          createdAt: T0,
          updatedAt: T0,
        };
        assert.equal(await store.createUser(user), true);
        assert.equal(await store.createUser(user), false, 'taken');
        assert.equal(await store.countUsers(), 1);
        assert.equal((await store.updateUser('ann', { role: 'viewer' }, T0 + 1))?.role, 'viewer');
        const token = {
          id: 't1',
          hash: 'abc',
          kind: 'session' as const,
          name: null,
          username: 'ann',
          role: 'operator' as const,
          createdAt: T0,
          expiresAt: T0 + 10,
          lastUsedAt: null,
        };
        await store.saveToken(token);
        await store.saveToken({ ...token, id: 't2', hash: 'def', kind: 'api', name: 'ci', expiresAt: null });
        const found = await store.findToken('abc');
        assert.equal(found?.token.id, 't1');
        assert.equal(found?.user.role, 'viewer', 'with the user as they are now');
        await store.touchToken('t1', T0 + 5);
        assert.equal((await store.getToken('t1'))?.lastUsedAt, T0 + 5);
        assert.deepEqual(
          (await store.listTokens({ kind: 'api' })).map((t) => t.id),
          ['t2'],
        );
        assert.equal(await store.deleteExpiredTokens(T0 + 10), 1);
        assert.equal(await store.findToken('abc'), undefined);
        assert.equal(await store.deleteUser('ann'), true);
        assert.equal(await store.getToken('t2'), undefined, "a deleted user's tokens are gone");
        assert.equal(await store.deleteUser('ann'), false);
      } finally {
        await cleanup();
      }
    });

    it('lists the audit trail newest first, filtered and paged', async () => {
      const { store, cleanup } = await open();
      try {
        for (let i = 0; i < 5; i++) {
          await store.addAudit({
            ts: T0 + i,
            username: i % 2 ? 'bob' : 'ann',
            tokenId: null,
            address: '10.0.0.1',
            method: 'PATCH',
            path: `/api/devices/d${i}`,
            action: 'PATCH /api/devices/:id',
            target: `d${i}`,
            status: i === 4 ? 403 : 200,
            result: i === 4 ? 'denied' : 'ok',
            detail: { fields: ['name'] },
          });
        }
        const all = await store.listAudit({});
        assert.equal(all.total, 5);
        assert.deepEqual(
          all.items.map((e) => e.target),
          ['d4', 'd3', 'd2', 'd1', 'd0'],
        );
        assert.deepEqual(all.items[0]?.detail, { fields: ['name'] });
        assert.equal((await store.listAudit({ username: 'bob' })).total, 2);
        assert.equal((await store.listAudit({ result: 'denied' })).items[0]?.username, 'ann');
        assert.equal((await store.listAudit({ from: T0 + 1, to: T0 + 2 })).total, 2);
        const page = await store.listAudit({ offset: 1, limit: 2 });
        assert.deepEqual([page.total, page.items.map((e) => e.target)], [5, ['d3', 'd2']]);
      } finally {
        await cleanup();
      }
    });
  });
}

suite('SQLite', tempStore);
const url = testPostgresUrl('auth store on PostgreSQL');
if (url) suite('PostgreSQL', () => tempPostgresStore(url, 'mqiot_auth'));

describe('a store created before people had accounts', () => {
  it('gains the requested_by column on commands when opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-old-store-'));
    try {
      const file = join(dir, 'platform.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE commands (id TEXT PRIMARY KEY, kind TEXT NOT NULL, gateway_id TEXT NOT NULL,
        device_id TEXT, action TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, result TEXT, error TEXT, history TEXT NOT NULL)`);
      old.close();
      const store = await openSqliteStore(file);
      const command = {
        id: 'c1',
        kind: 'command' as const,
        gatewayId: 'g',
        deviceId: 'd',
        action: 'poll',
        params: {},
        state: 'pending' as const,
        attempts: 0,
        createdAt: T0,
        updatedAt: T0,
        result: null,
        error: null,
        history: [],
        requestedBy: 'ann',
      };
      await store.saveCommand(command);
      assert.equal((await store.getCommand('c1'))?.requestedBy, 'ann');
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
