import pg from 'pg';
import {
  isBatchInsert,
  type BatchInsert,
  type BatchOp,
  type BatchStatement,
  checkChanges,
  type SqlDriver,
  type SqlValue,
} from './driver.ts';

// PostgreSQL allows at most 65535 bind parameters per statement.
const MAX_PARAMS = 65_000;
const PG_INT8 = 20;
const PG_NUMERIC = 1700;

/** Converts `?` placeholders to `$1, $2, ...` (the store's SQL has no `?` inside literals). */
export function toPgPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

// Timestamps are BIGINT milliseconds: safe as JS numbers until the year 287396.
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === PG_INT8) return (value: string) => Number(value);
    if (oid === PG_NUMERIC) return (value: string) => Number.parseFloat(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export interface PostgresDriverOptions {
  url: string;
  /** Schema to use (created if missing); keeps test runs apart. */
  schema?: string;
  max?: number;
  onIdleError?: (err: Error) => void;
}

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;

  constructor(options: PostgresDriverOptions) {
    const searchPath = options.schema ? `-c search_path=${options.schema}` : undefined;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 4,
      options: searchPath,
      types: types as pg.CustomTypesConfig,
    });
    // An idle pooled connection that breaks (server restart) must not crash the process; the pool
    // replaces it and the next query reports any lasting failure to its caller.
    this.#pool.on('error', (err) => options.onIdleError?.(err));
  }

  async exec(sql: string): Promise<void> {
    await this.#pool.query(sql);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    const result = await this.#pool.query(toPgPlaceholders(sql), params as unknown[]);
    return { changes: result.rowCount ?? 0 };
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const result = await this.#pool.query(toPgPlaceholders(sql), params as unknown[]);
    return result.rows as T[];
  }

  async batch(ops: readonly BatchOp[]): Promise<number[]> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const counts: number[] = [];
      let inserted: SqlValue[][] = [];
      const run = async (op: BatchInsert | BatchStatement): Promise<number> => {
        if (!isBatchInsert(op)) {
          const result = await client.query(toPgPlaceholders(op.sql), op.params as unknown[]);
          return checkChanges(op, result.rowCount ?? 0);
        }
        const result = await insertRows(client, op);
        if (op.collectInserted) inserted = result.inserted;
        return result.changes;
      };
      for (const op of ops) {
        if (typeof op !== 'function') {
          counts.push(await run(op));
          continue;
        }
        let changes = 0;
        for (const deferred of op(inserted)) changes += await run(deferred);
        counts.push(changes);
      }
      await client.query('COMMIT');
      return counts;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

// Rows per `unnest` insert: one array per column, so the bind-parameter limit does not apply.
const UNNEST_CHUNK = 20_000;

/**
 * One INSERT … SELECT FROM unnest(arrays) per chunk when the column types are known: a handful of
 * parameters however many rows, so PostgreSQL parses and plans one small statement; otherwise one
 * multi-row VALUES insert per chunk.
 */
async function insertRows(
  client: pg.PoolClient,
  insert: BatchInsert,
): Promise<{ changes: number; inserted: SqlValue[][] }> {
  if (insert.types) return insertUnnest(client, insert, insert.types);
  const width = insert.columns.length;
  const perChunk = Math.max(1, Math.floor(MAX_PARAMS / width));
  const returning = insert.collectInserted
    ? ` RETURNING ${(insert.returning ?? insert.columns).join(', ')}`
    : '';
  let changes = 0;
  const inserted: SqlValue[][] = [];
  for (let start = 0; start < insert.rows.length; start += perChunk) {
    const chunk = insert.rows.slice(start, start + perChunk);
    const values: string[] = [];
    const params: SqlValue[] = [];
    for (const row of chunk) {
      const marks = row.map((value) => {
        params.push(value);
        return `$${params.length}`;
      });
      values.push(`(${marks.join(', ')})`);
    }
    const sql = `INSERT INTO ${insert.table} (${insert.columns.join(', ')}) VALUES ${values.join(', ')} ${insert.suffix}${returning}`;
    const result = await client.query(sql, params as unknown[]);
    changes += result.rowCount ?? 0;
    if (returning)
      for (const row of result.rows as Record<string, SqlValue>[])
        inserted.push(insert.columns.map((c) => row[c] ?? null));
  }
  return { changes, inserted };
}

async function insertUnnest(
  client: pg.PoolClient,
  insert: BatchInsert,
  types: readonly string[],
): Promise<{ changes: number; inserted: SqlValue[][] }> {
  const returning = insert.collectInserted
    ? ` RETURNING ${(insert.returning ?? insert.columns).join(', ')}`
    : '';
  const arrays = types.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
  const sql = `INSERT INTO ${insert.table} (${insert.columns.join(', ')}) SELECT * FROM unnest(${arrays}) ${insert.suffix}${returning}`;
  let changes = 0;
  const inserted: SqlValue[][] = [];
  for (let start = 0; start < insert.rows.length; start += UNNEST_CHUNK) {
    const chunk = insert.rows.slice(start, start + UNNEST_CHUNK);
    const columns = types.map((_, c) => chunk.map((row) => row[c] ?? null));
    const result = await client.query(sql, columns);
    changes += result.rowCount ?? 0;
    if (returning)
      for (const row of result.rows as Record<string, SqlValue>[])
        inserted.push(insert.columns.map((c) => row[c] ?? null));
  }
  return { changes, inserted };
}
