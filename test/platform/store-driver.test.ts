// The drivers' batch guard: a statement that changes other rows than it expects (another writer got
// there first) rolls the whole batch back, on SQLite and on PostgreSQL alike.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { BatchConflict, type SqlDriver } from '../../src/platform/store/driver.ts';
import { PostgresDriver } from '../../src/platform/store/postgres-driver.ts';
import { SqliteDriver } from '../../src/platform/store/sqlite-driver.ts';
import { tempDir } from '../support/temp.ts';

const PG_URL = process.env.MQIOT_TEST_PG_URL;

const drivers: [string, (t: import('node:test').TestContext) => Promise<SqlDriver>][] = [
  [
    'SQLite',
    async (t) => {
      const driver = new SqliteDriver(join(tempDir(t, 'mqiot-driver-'), 'd.db'));
      t.after(() => driver.close());
      return driver;
    },
  ],
];
if (PG_URL)
  drivers.push([
    'PostgreSQL',
    async (t) => {
      const schema = `mqiot_driver_${randomBytes(5).toString('hex')}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      const driver = new PostgresDriver({ url: PG_URL, schema });
      t.after(async () => {
        await driver.close();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      });
      return driver;
    },
  ]);

for (const [name, open] of drivers) {
  describe(`${name} driver: expectChanges`, () => {
    it('a statement that changes fewer rows than expected rolls the batch back', async (t) => {
      const db = await open(t);
      await db.exec('CREATE TABLE blocks (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
      await db.batch([
        {
          table: 'blocks',
          columns: ['id', 'n'],
          rows: [
            [1, 10],
            [2, 20],
          ],
          suffix: '',
        },
      ]);
      await assert.rejects(
        db.batch([
          { sql: 'DELETE FROM blocks WHERE id IN (?, ?)', params: [1, 3], expectChanges: 2 },
          { table: 'blocks', columns: ['id', 'n'], rows: [[4, 40]], suffix: '' },
        ]),
        BatchConflict,
      );
      const rows = await db.all<{ id: number }>('SELECT id FROM blocks ORDER BY id');
      assert.deepEqual(
        rows.map((r) => Number(r.id)),
        [1, 2],
        'nothing of the batch was kept',
      );
      // the expected count goes through
      await db.batch([
        { sql: 'DELETE FROM blocks WHERE id IN (?, ?)', params: [1, 2], expectChanges: 2 },
        { table: 'blocks', columns: ['id', 'n'], rows: [[3, 30]], suffix: '' },
      ]);
      const after = await db.all<{ id: number }>('SELECT id FROM blocks ORDER BY id');
      assert.deepEqual(
        after.map((r) => Number(r.id)),
        [3],
      );
    });
  });
}
