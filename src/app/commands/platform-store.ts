// The platform store a management command (`mqiot gateways`, `mqiot user`) works on directly: the
// SQLite file under a data directory, as `mqiot up --data-dir` keeps it, or PostgreSQL.
import { join, resolve } from 'node:path';
import { openPostgresStore, openSqliteStore, type PlatformStore } from '../../platform/store/index.ts';
import { SQLITE_FILE } from '../platform-app.ts';
import { StartError } from '../start-error.ts';

export { SQLITE_FILE, type PlatformStore };
export { PlatformError } from '../../platform/errors.ts';

export async function openPlatformStore(where: {
  dataDir?: string;
  postgresUrl?: string;
}): Promise<PlatformStore> {
  if (where.postgresUrl !== undefined) {
    return openPostgresStore(where.postgresUrl).catch((err: Error) => {
      throw new StartError(`cannot open the PostgreSQL store: ${err.message}`, { cause: err });
    });
  }
  const path = join(resolve(where.dataDir ?? 'data'), SQLITE_FILE);
  return openSqliteStore(path).catch((err: Error) => {
    throw new StartError(`cannot open ${path}: ${err.message}`, { cause: err });
  });
}
