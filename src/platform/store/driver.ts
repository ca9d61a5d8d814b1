// The seam between the SQL store and a database client. SQL is written once with `?` placeholders;
// each driver runs it its own way (better-sqlite3 synchronously, pg over a pool).
export type SqlValue = string | number | bigint | Buffer | null;

/** A multi-row insert: same statement for every row, conflict handling in `suffix` (e.g. ON CONFLICT DO NOTHING). */
export interface BatchInsert {
  table: string;
  columns: readonly string[];
  rows: SqlValue[][];
  suffix: string;
  /** PostgreSQL array element types of the columns (e.g. 'bigint', 'text'): sent as one `unnest` of arrays. */
  types?: readonly string[];
  /** Hand the rows actually inserted (not skipped by a conflict) to the next deferred op. */
  collectInserted?: boolean;
  /**
   * The columns the next op needs of those rows (default all): PostgreSQL sends back only these, the
   * others are null (a large blob need not travel back).
   */
  returning?: readonly string[];
}

/** A statement run once inside the batch's transaction (e.g. a rollup refresh). */
export interface BatchStatement {
  sql: string;
  params: SqlValue[];
  /**
   * Rows it must change; any other count rolls the whole batch back with a BatchConflict. For a
   * read-then-write that another writer (another instance on the same database) may have beaten.
   */
  expectChanges?: number;
}

/** A batch rolled back because a statement changed other rows than it expected (`expectChanges`). */
export class BatchConflict extends Error {
  constructor(sql: string, expected: number, changed: number) {
    super(`expected ${expected} rows changed, got ${changed}: ${sql.slice(0, 60)}`);
    this.name = 'BatchConflict';
  }
}

/** Throws BatchConflict when a statement's row count is not the one it expected. */
export function checkChanges(op: BatchStatement, changed: number): number {
  if (op.expectChanges !== undefined && changed !== op.expectChanges)
    throw new BatchConflict(op.sql, op.expectChanges, changed);
  return changed;
}

/** Ops computed inside the transaction from the rows the previous collecting insert really inserted. */
export type DeferredOps = (inserted: SqlValue[][]) => (BatchInsert | BatchStatement)[];

export type BatchOp = BatchInsert | BatchStatement | DeferredOps;

export function isBatchInsert(op: BatchOp): op is BatchInsert {
  return typeof op === 'object' && 'table' in op;
}

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs DDL (several statements). */
  exec(sql: string): Promise<void>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs the inserts and statements in one transaction; returns the number of rows each one changed. */
  batch(ops: readonly BatchOp[]): Promise<number[]>;
  close(): Promise<void>;
}
