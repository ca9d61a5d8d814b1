// Column types and table options that differ between SQLite and PostgreSQL, for the schema files.

export interface DialectTypes {
  bigint: string;
  real: string;
  blob: string;
  serial: string;
  /** An integer key the database assigns, without SQLite's AUTOINCREMENT bookkeeping (ids may be reused). */
  rowId: string;
  /** Extra clause on the points key: PostgreSQL can answer aggregates from the index alone. */
  pointsKeyInclude: string;
  pointsTableOptions: string;
}

const SQLITE: DialectTypes = {
  bigint: 'INTEGER',
  real: 'REAL',
  blob: 'BLOB',
  serial: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  rowId: 'INTEGER PRIMARY KEY',
  pointsKeyInclude: '',
  // Clustered on (series, time): a range or aggregate reads one contiguous slice of the b-tree.
  pointsTableOptions: 'WITHOUT ROWID',
};

const POSTGRES: DialectTypes = {
  bigint: 'BIGINT',
  real: 'DOUBLE PRECISION',
  blob: 'BYTEA',
  serial: 'BIGSERIAL PRIMARY KEY',
  rowId: 'BIGSERIAL PRIMARY KEY',
  pointsKeyInclude: 'INCLUDE (value_num)',
  pointsTableOptions: '',
};

export function dialectTypes(dialect: 'sqlite' | 'postgres'): DialectTypes {
  return dialect === 'sqlite' ? SQLITE : POSTGRES;
}
