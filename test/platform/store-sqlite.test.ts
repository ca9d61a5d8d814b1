import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/platform/store/index.ts';
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
