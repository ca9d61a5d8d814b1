// Users, tokens and the audit trail in the SQL store (both dialects alike).
import type { Role } from '../auth/roles.ts';
import type { TokenKind } from '../auth/tokens.ts';
import type {
  AuditFilter,
  AuditInput,
  AuditRecord,
  AuthStore,
  TokenRecord,
  UserRecord,
} from './auth-types.ts';
import type { SqlDriver, SqlValue } from './driver.ts';
import type { Page } from './types.ts';

type Row = Record<string, unknown>;
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toUser(row: Row, prefix = ''): UserRecord {
  return {
    username: String(row[`${prefix}username`]),
    passwordHash: String(row[`${prefix}password_hash`]),
    role: String(row[`${prefix}role`]) as Role,
    createdAt: Number(row[`${prefix}created_at`]),
    updatedAt: Number(row[`${prefix}updated_at`]),
  };
}

function toToken(row: Row): TokenRecord {
  return {
    id: String(row.id),
    hash: String(row.hash),
    kind: String(row.kind) as TokenKind,
    name: str(row.name),
    username: String(row.username),
    role: String(row.role) as Role,
    createdAt: Number(row.created_at),
    expiresAt: num(row.expires_at),
    lastUsedAt: num(row.last_used_at),
  };
}

function toAudit(row: Row): AuditRecord {
  return {
    id: Number(row.id),
    ts: Number(row.ts),
    username: str(row.username),
    tokenId: str(row.token_id),
    address: str(row.address),
    method: String(row.method),
    path: String(row.path),
    action: String(row.action),
    target: str(row.target),
    status: Number(row.status),
    result: String(row.result) as AuditRecord['result'],
    detail: row.detail === null || row.detail === undefined ? null : JSON.parse(String(row.detail)),
  };
}

export class SqlAuth implements AuthStore {
  constructor(private readonly db: SqlDriver) {}

  async countUsers(): Promise<number> {
    const rows = await this.db.all<Row>('SELECT COUNT(*) AS n FROM users');
    return Number(rows[0]?.n ?? 0);
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM users WHERE username = ?', [username]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.all<Row>('SELECT * FROM users ORDER BY username')).map((r) => toUser(r));
  }

  async createUser(u: UserRecord): Promise<boolean> {
    const { changes } = await this.db.run(
      `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (username) DO NOTHING`,
      [u.username, u.passwordHash, u.role, u.createdAt, u.updatedAt],
    );
    return changes > 0;
  }

  async updateUser(
    username: string,
    patch: { passwordHash?: string; role?: Role },
    now: number,
  ): Promise<UserRecord | undefined> {
    const sets: string[] = ['updated_at = ?'];
    const params: SqlValue[] = [now];
    if (patch.passwordHash !== undefined) {
      sets.push('password_hash = ?');
      params.push(patch.passwordHash);
    }
    if (patch.role !== undefined) {
      sets.push('role = ?');
      params.push(patch.role);
    }
    await this.db.run(`UPDATE users SET ${sets.join(', ')} WHERE username = ?`, [...params, username]);
    return this.getUser(username);
  }

  async deleteUser(username: string): Promise<boolean> {
    const [, users] = await this.db.batch([
      { sql: 'DELETE FROM tokens WHERE username = ?', params: [username] },
      { sql: 'DELETE FROM users WHERE username = ?', params: [username] },
    ]);
    return (users ?? 0) > 0;
  }

  async saveToken(t: TokenRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO tokens (id, hash, kind, name, username, role, created_at, expires_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [t.id, t.hash, t.kind, t.name, t.username, t.role, t.createdAt, t.expiresAt, t.lastUsedAt],
    );
  }

  async findToken(hash: string): Promise<{ token: TokenRecord; user: UserRecord } | undefined> {
    const rows = await this.db.all<Row>(
      `SELECT t.*, u.username AS u_username, u.password_hash AS u_password_hash, u.role AS u_role,
              u.created_at AS u_created_at, u.updated_at AS u_updated_at
       FROM tokens t JOIN users u ON u.username = t.username WHERE t.hash = ?`,
      [hash],
    );
    return rows[0] ? { token: toToken(rows[0]), user: toUser(rows[0], 'u_') } : undefined;
  }

  async listTokens(filter: { username?: string; kind?: TokenKind }): Promise<TokenRecord[]> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (filter.username !== undefined) {
      clauses.push('username = ?');
      params.push(filter.username);
    }
    if (filter.kind !== undefined) {
      clauses.push('kind = ?');
      params.push(filter.kind);
    }
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    return (await this.db.all<Row>(`SELECT * FROM tokens ${where} ORDER BY created_at, id`, params)).map(
      toToken,
    );
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM tokens WHERE id = ?', [id]);
    return rows[0] ? toToken(rows[0]) : undefined;
  }

  async deleteToken(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM tokens WHERE id = ?', [id])).changes > 0;
  }

  async deleteUserTokens(username: string, kind?: TokenKind): Promise<number> {
    const { changes } =
      kind === undefined
        ? await this.db.run('DELETE FROM tokens WHERE username = ?', [username])
        : await this.db.run('DELETE FROM tokens WHERE username = ? AND kind = ?', [username, kind]);
    return changes;
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return (await this.db.run('DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= ?', [now]))
      .changes;
  }

  async touchToken(id: string, at: number): Promise<void> {
    await this.db.run('UPDATE tokens SET last_used_at = ? WHERE id = ?', [at, id]);
  }

  async addAudit(e: AuditInput): Promise<void> {
    await this.db.run(
      `INSERT INTO audit (ts, username, token_id, address, method, path, action, target, status, result, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        e.ts,
        e.username,
        e.tokenId,
        e.address,
        e.method,
        e.path,
        e.action,
        e.target,
        e.status,
        e.result,
        e.detail === null ? null : JSON.stringify(e.detail),
      ],
    );
  }

  async listAudit(f: AuditFilter): Promise<Page<AuditRecord>> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      clauses.push(`${column} = ?`);
      params.push(value);
    };
    eq('username', f.username);
    eq('action', f.action);
    eq('result', f.result);
    eq('target', f.target);
    if (f.from !== undefined) {
      clauses.push('ts >= ?');
      params.push(f.from);
    }
    if (f.to !== undefined) {
      clauses.push('ts <= ?');
      params.push(f.to);
    }
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    const offset = f.offset ?? 0;
    const limit = f.limit ?? 50;
    const total = Number(
      (await this.db.all<Row>(`SELECT COUNT(*) AS n FROM audit ${where}`, params))[0]?.n ?? 0,
    );
    const rows = await this.db.all<Row>(
      `SELECT * FROM audit ${where} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return { items: rows.map(toAudit), total, offset, limit };
  }
}

/** Tables of this part (appended to the store's schema). */
export function authSchemaSql(t: { bigint: string; serial: string }): string {
  return `
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  name TEXT,
  username TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  expires_at ${t.bigint},
  last_used_at ${t.bigint}
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (username, kind);

CREATE TABLE IF NOT EXISTS audit (
  id ${t.serial},
  ts ${t.bigint} NOT NULL,
  username TEXT,
  token_id TEXT,
  address TEXT,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  status INTEGER NOT NULL,
  result TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE INDEX IF NOT EXISTS audit_user ON audit (username, ts);
`;
}

/**
 * Columns added to tables that existed before people had accounts: the requesting user on a command.
 * SQLite has no ADD COLUMN IF NOT EXISTS, so it looks first.
 */
export async function migrateAuthColumns(db: SqlDriver): Promise<void> {
  if (db.dialect === 'postgres') {
    await db.exec('ALTER TABLE commands ADD COLUMN IF NOT EXISTS requested_by TEXT');
    return;
  }
  const columns = await db.all<Row>('PRAGMA table_info(commands)');
  if (!columns.some((c) => c.name === 'requested_by'))
    await db.exec('ALTER TABLE commands ADD COLUMN requested_by TEXT');
}
