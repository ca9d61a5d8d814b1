import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../src/platform/store/index.ts';
import { runStoreSuite } from './store-suite.ts';

const url = process.env.MQIOT_TEST_PG_URL;

if (!url) {
  // In CI the server must be there (.ci/postgres.sh starts it): a missing URL is a failure, not a skip.
  test('PostgreSQL store suite needs MQIOT_TEST_PG_URL', () => {
    assert.ok(
      !process.env.CI,
      'CI is set but MQIOT_TEST_PG_URL is missing: the PostgreSQL store suite cannot run',
    );
  });
} else {
  runStoreSuite('PostgreSQL', async () => {
    // A fresh schema per run keeps parallel runs and reruns apart.
    const schema = `mqiot_test_${randomBytes(6).toString('hex')}`;
    const store = await openPostgresStore(url, { schema });
    return {
      store,
      cleanup: async () => {
        await store.close();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`DROP SCHEMA ${schema} CASCADE`);
        await client.end();
      },
    };
  });
}
