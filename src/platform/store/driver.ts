// The seam between the SQL store and a database client. SQL is written once with `?` placeholders;
// each driver runs it its own way (better-sqlite3 synchronously, pg over a pool).
export type SqlValue = string | number | bigint | Buffer | null;

/** A multi-row insert: same statement for every row, conflict handling in `suffix` (e.g. ON CONFLICT DO NOTHING). */
export interface BatchInsert {
  table: string;
  columns: readonly string[];
  rows: SqlValue[][];
  suffix: string;
}

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs DDL (several statements). */
  exec(sql: string): Promise<void>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs the inserts in one transaction; returns the number of rows each one changed. */
  batch(inserts: readonly BatchInsert[]): Promise<number[]>;
  close(): Promise<void>;
}
