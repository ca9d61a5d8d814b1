// Opening a platform store: SQLite under a data directory by default, PostgreSQL when given a URL.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SqlDriver } from './driver.ts';
import { PostgresDriver } from './postgres-driver.ts';
import { schemaSql } from './schema.ts';
import { migrateAuthColumns, SqlAuth } from './sql-auth.ts';
import { SqlAlarms } from './sql-alarms.ts';
import { SqlRegistry } from './sql-registry.ts';
import { SqlModels } from './sql-models.ts';
import { SqlRemoval } from './sql-removal.ts';
import { SqlRules } from './sql-rules.ts';
import { SqlTelemetry } from './sql-telemetry.ts';
import { SqliteDriver } from './sqlite-driver.ts';
import { migrateTelemetry } from './telemetry-schema.ts';
import type { PlatformStore } from './types.ts';

export type * from './types.ts';
export type * from './auth-types.ts';
export type * from './alarm-types.ts';
export { AuditResult } from './auth-types.ts';

/** Binds every method of the parts onto one object that satisfies PlatformStore. */
function composeStore(driver: SqlDriver): PlatformStore {
  const telemetry = new SqlTelemetry(driver);
  const registry = new SqlRegistry(driver);
  const removal = new SqlRemoval(driver);
  const rules = new SqlRules(driver);
  const auth = new SqlAuth(driver);
  const alarms = new SqlAlarms(driver);
  const models = new SqlModels(driver);
  const bind = <T extends object>(target: T) =>
    Object.fromEntries(
      Object.getOwnPropertyNames(Object.getPrototypeOf(target))
        .filter((name) => name !== 'constructor')
        .map((name) => [name, (target as Record<string, (...a: unknown[]) => unknown>)[name]!.bind(target)]),
    );
  return {
    kind: driver.dialect,
    ...bind(telemetry),
    ...bind(registry),
    ...bind(removal),
    ...bind(rules),
    ...bind(auth),
    ...bind(alarms),
    ...bind(models),
    close: () => driver.close(),
  } as PlatformStore;
}

export async function openSqliteStore(path: string): Promise<PlatformStore> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const driver = new SqliteDriver(path);
  await driver.exec(schemaSql('sqlite'));
  await migrateAuthColumns(driver);
  await migrateTelemetry(driver);
  return composeStore(driver);
}

export async function openPostgresStore(
  url: string,
  options: { schema?: string } = {},
): Promise<PlatformStore> {
  if (options.schema && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
    throw new Error(`invalid PostgreSQL schema name '${options.schema}'`);
  }
  const driver = new PostgresDriver({ url, schema: options.schema });
  if (options.schema) await driver.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
  await driver.exec(schemaSql('postgres'));
  await migrateAuthColumns(driver);
  await migrateTelemetry(driver);
  return composeStore(driver);
}

/** `sqlite:PATH`, a bare path, or a `postgres://` URL. */
export async function openStore(location: string): Promise<PlatformStore> {
  if (/^postgres(ql)?:\/\//.test(location)) return openPostgresStore(location);
  return openSqliteStore(location.replace(/^sqlite:/, ''));
}
