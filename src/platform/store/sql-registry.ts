// Registry half of the SQL store: gateways, devices, events, commands, reports, contract versions.
import type { BatchStatement, SqlDriver, SqlValue } from './driver.ts';
import { addClause } from './rows.ts';
import { ASSET_COLUMNS, assetValue, toCommand, toDevice, toEvent, toGateway } from './rows.ts';
import type {
  AssetPatch,
  CommandFilter,
  CommandRecord,
  ContractVersionRecord,
  DeviceFilter,
  DeviceRecord,
  EventFilter,
  EventInput,
  EventRecord,
  GatewayRecord,
  Page,
  GatewayCredentialRow,
  ReportInput,
  StreamMark,
} from './types.ts';
import { streamMarkStatement } from './sql-telemetry.ts';

function toCredential(r: Record<string, unknown>): GatewayCredentialRow {
  return {
    gatewayId: String(r.gateway_id),
    hash: String(r.hash),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

type Row = Record<string, unknown>;
const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

function where(clauses: string[]): string {
  return clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
}

export class SqlRegistry {
  constructor(private readonly db: SqlDriver) {}

  async ensureGateway(id: string, now: number): Promise<boolean> {
    const { changes } = await this.db.run(
      'INSERT INTO gateways (id, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      [id, now, now],
    );
    return changes > 0;
  }

  async getGateway(id: string): Promise<GatewayRecord | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM gateways WHERE id = ?', [id]);
    return rows[0] ? toGateway(rows[0]) : undefined;
  }

  async listGateways(): Promise<GatewayRecord[]> {
    return (await this.db.all<Row>('SELECT * FROM gateways ORDER BY id')).map(toGateway);
  }

  async #patch(table: string, id: string, patch: Record<string, unknown>, now: number): Promise<boolean> {
    const sets: string[] = [];
    const params: SqlValue[] = [];
    for (const [field, value] of Object.entries(patch)) {
      const column = ASSET_COLUMNS[field];
      if (!column || value === undefined) continue;
      sets.push(`${column} = ?`);
      params.push(assetValue(field, value));
    }
    sets.push('updated_at = ?');
    params.push(now, id);
    const { changes } = await this.db.run(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = ?`, params);
    return changes > 0;
  }

  async updateGatewayAsset(id: string, patch: AssetPatch, now: number): Promise<GatewayRecord | undefined> {
    return (await this.#patch('gateways', id, patch, now)) ? this.getGateway(id) : undefined;
  }

  async setGatewayOnline(id: string, online: boolean, at: number): Promise<void> {
    await this.db.run('UPDATE gateways SET online = ?, online_changed_at = ? WHERE id = ?', [
      online ? 1 : 0,
      at,
      id,
    ]);
  }

  async touchGateway(id: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE gateways SET last_seen = ? WHERE id = ? AND (last_seen IS NULL OR last_seen < ?)',
      [at, id, at],
    );
  }

  async ensureDevice(
    d: {
      id: string;
      gatewayId: string | null;
      contractId: string | null;
      pollMs?: number | null;
      model?: string | null;
    },
    now: number,
  ): Promise<boolean> {
    const { changes } = await this.db.run(
      `INSERT INTO devices (id, gateway_id, contract_id, poll_ms, model, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [d.id, d.gatewayId, d.contractId, d.pollMs ?? null, d.model ?? null, now, now],
    );
    return changes > 0;
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM devices WHERE id = ?', [id]);
    return rows[0] ? toDevice(rows[0]) : undefined;
  }

  async listDevices(f: DeviceFilter): Promise<Page<DeviceRecord>> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (f.gatewayId) addClause(clauses, params, 'gateway_id = ?', f.gatewayId);
    if (f.contractId) addClause(clauses, params, 'contract_id = ?', f.contractId);
    if (f.type) addClause(clauses, params, 'type = ?', f.type);
    if (f.lifecycle) addClause(clauses, params, 'lifecycle = ?', f.lifecycle);
    if (f.online !== undefined) addClause(clauses, params, 'online = ?', f.online ? 1 : 0);
    // Tags are a JSON array of strings: match the quoted tag inside it.
    if (f.tag) addClause(clauses, params, 'tags LIKE ?', `%${JSON.stringify(f.tag)}%`);
    if (f.search) {
      clauses.push(
        "(LOWER(id) LIKE ? OR LOWER(COALESCE(name, '')) LIKE ? OR LOWER(COALESCE(location, '')) LIKE ?)",
      );
      const like = `%${f.search.toLowerCase()}%`;
      params.push(like, like, like);
    }
    const offset = f.offset ?? 0;
    const limit = Math.min(f.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const total = await this.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM devices ${where(clauses)}`,
      params,
    );
    const rows = await this.db.all<Row>(
      `SELECT * FROM devices ${where(clauses)} ORDER BY id LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return { items: rows.map(toDevice), total: Number(total[0]?.n ?? 0), offset, limit };
  }

  async updateDeviceAsset(
    id: string,
    patch: AssetPatch & { pollMs?: number | null; contractId?: string | null },
    now: number,
  ): Promise<DeviceRecord | undefined> {
    return (await this.#patch('devices', id, patch, now)) ? this.getDevice(id) : undefined;
  }

  async setDeviceOnline(id: string, online: boolean, at: number): Promise<void> {
    await this.db.run('UPDATE devices SET online = ?, online_changed_at = ? WHERE id = ?', [
      online ? 1 : 0,
      at,
      id,
    ]);
  }

  /** One transaction for all of them: a commit per device cost more than the readings' own batch. */
  /** One statement per 500 devices (not one per device): on PostgreSQL each statement is a round trip. */
  async touchDevices(ids: readonly string[], at: number): Promise<void> {
    const unique = [...new Set(ids)];
    const ops: BatchStatement[] = [];
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      ops.push({
        sql: `UPDATE devices SET last_seen = ? WHERE id IN (${chunk.map(() => '?').join(', ')})
          AND (last_seen IS NULL OR last_seen < ?)`,
        params: [at, ...chunk, at],
      });
    }
    if (ops.length > 0) await this.db.batch(ops);
  }

  async addEvent(e: EventInput): Promise<EventRecord> {
    const rows = await this.db.all<Row>(
      'INSERT INTO events (ts, kind, subject_type, subject_id, detail) VALUES (?, ?, ?, ?, ?) RETURNING id',
      [e.ts, e.kind, e.subjectType, e.subjectId, JSON.stringify(e.detail ?? {})],
    );
    return { ...e, id: Number(rows[0]?.id) };
  }

  async listEvents(f: EventFilter): Promise<EventRecord[]> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (f.subjectType) addClause(clauses, params, 'subject_type = ?', f.subjectType);
    if (f.subjectId) addClause(clauses, params, 'subject_id = ?', f.subjectId);
    if (f.kind) addClause(clauses, params, 'kind = ?', f.kind);
    if (f.from !== undefined) addClause(clauses, params, 'ts >= ?', f.from);
    if (f.to !== undefined) addClause(clauses, params, 'ts < ?', f.to);
    params.push(Math.min(f.limit ?? 100, MAX_PAGE), f.offset ?? 0);
    const rows = await this.db.all<Row>(
      `SELECT * FROM events ${where(clauses)} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?`,
      params,
    );
    return rows.map(toEvent);
  }

  async saveCommand(c: CommandRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO commands (id, kind, gateway_id, device_id, action, params, state, attempts, created_at, updated_at, result, error, history, requested_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
         updated_at = excluded.updated_at, result = excluded.result, error = excluded.error, history = excluded.history`,
      [
        c.id,
        c.kind,
        c.gatewayId,
        c.deviceId,
        c.action,
        JSON.stringify(c.params),
        c.state,
        c.attempts,
        c.createdAt,
        c.updatedAt,
        c.result === undefined || c.result === null ? null : JSON.stringify(c.result),
        c.error,
        JSON.stringify(c.history),
        c.requestedBy ?? null,
      ],
    );
  }

  async getCommand(id: string): Promise<CommandRecord | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM commands WHERE id = ?', [id]);
    return rows[0] ? toCommand(rows[0]) : undefined;
  }

  async listCommands(f: CommandFilter): Promise<CommandRecord[]> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (f.gatewayId) addClause(clauses, params, 'gateway_id = ?', f.gatewayId);
    if (f.deviceId) addClause(clauses, params, 'device_id = ?', f.deviceId);
    if (f.kind) addClause(clauses, params, 'kind = ?', f.kind);
    if (f.state) addClause(clauses, params, 'state = ?', f.state);
    params.push(Math.min(f.limit ?? DEFAULT_PAGE, MAX_PAGE), f.offset ?? 0);
    const rows = await this.db.all<Row>(
      `SELECT * FROM commands ${where(clauses)} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      params,
    );
    return rows.map(toCommand);
  }

  async saveReport(r: ReportInput): Promise<boolean> {
    const { changes } = await this.db.run(
      'INSERT INTO reports (gateway_id, epoch, seq, ts, received_at, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [r.gatewayId, r.epoch, r.seq, r.ts, r.receivedAt, JSON.stringify(r.body ?? null)],
    );
    return changes > 0;
  }

  async listReports(gatewayId: string, limit = DEFAULT_PAGE): Promise<ReportInput[]> {
    const rows = await this.db.all<Row>(
      'SELECT * FROM reports WHERE gateway_id = ? ORDER BY seq DESC LIMIT ?',
      [gatewayId, Math.min(limit, MAX_PAGE)],
    );
    return rows.map((r) => ({
      gatewayId: String(r.gateway_id),
      epoch: String(r.epoch),
      seq: Number(r.seq),
      ts: Number(r.ts),
      receivedAt: Number(r.received_at),
      body: JSON.parse(String(r.body)),
    }));
  }

  async saveContractVersion(c: ContractVersionRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO contract_versions (id, version, source, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id, version) DO UPDATE SET source = excluded.source, created_at = excluded.created_at`,
      [c.id, c.version, c.source, c.createdAt],
    );
  }

  async listContractVersions(id?: string): Promise<ContractVersionRecord[]> {
    const rows = id
      ? await this.db.all<Row>('SELECT * FROM contract_versions WHERE id = ? ORDER BY created_at, version', [
          id,
        ])
      : await this.db.all<Row>('SELECT * FROM contract_versions ORDER BY id, created_at, version');
    return rows.map((r) => ({
      id: String(r.id),
      version: String(r.version),
      source: String(r.source),
      createdAt: Number(r.created_at),
    }));
  }

  async getStreamMark(gatewayId: string, epoch: string): Promise<StreamMark> {
    const rows = await this.db.all<Row>(
      'SELECT applied_seq, birth_seq FROM gateway_streams WHERE gateway_id = ? AND epoch = ?',
      [gatewayId, epoch],
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    if (rows[0]) {
      return { gatewayId, epoch, appliedSeq: num(rows[0].applied_seq), birthSeq: num(rows[0].birth_seq) };
    }
    // a store written before the marks were kept: the data groups stored are the record (key index)
    const max = await this.db.all<Row>(
      'SELECT MAX(group_seq) AS m FROM frame_groups WHERE gateway_id = ? AND epoch = ?',
      [gatewayId, epoch],
    );
    return { gatewayId, epoch, appliedSeq: num(max[0]?.m), birthSeq: null };
  }

  async saveStreamMark(mark: StreamMark): Promise<void> {
    const { sql, params } = streamMarkStatement(mark);
    await this.db.run(sql, params);
  }

  async dataGroupStored(gatewayId: string, epoch: string, seq: number): Promise<boolean> {
    const rows = await this.db.all<Row>(
      'SELECT 1 AS one FROM frame_groups WHERE gateway_id = ? AND epoch = ? AND group_seq = ?',
      [gatewayId, epoch, seq],
    );
    return rows.length > 0;
  }

  async getGatewayCredential(gatewayId: string): Promise<GatewayCredentialRow | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM gateway_credentials WHERE gateway_id = ?', [
      gatewayId,
    ]);
    return rows[0] ? toCredential(rows[0]) : undefined;
  }

  async listGatewayCredentials(): Promise<GatewayCredentialRow[]> {
    return (await this.db.all<Row>('SELECT * FROM gateway_credentials ORDER BY gateway_id')).map(
      toCredential,
    );
  }

  async insertGatewayCredential(c: GatewayCredentialRow): Promise<boolean> {
    const { changes } = await this.db.run(
      'INSERT INTO gateway_credentials (gateway_id, hash, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [c.gatewayId, c.hash, c.createdAt, c.updatedAt],
    );
    return changes > 0;
  }

  async putGatewayCredential(c: GatewayCredentialRow): Promise<void> {
    await this.db.run(
      `INSERT INTO gateway_credentials (gateway_id, hash, created_at, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (gateway_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`,
      [c.gatewayId, c.hash, c.createdAt, c.updatedAt],
    );
  }

  async deleteGatewayCredential(gatewayId: string): Promise<boolean> {
    const { changes } = await this.db.run('DELETE FROM gateway_credentials WHERE gateway_id = ?', [
      gatewayId,
    ]);
    return changes > 0;
  }

  async getSetting(key: string): Promise<string | undefined> {
    const rows = await this.db.all<Row>('SELECT value FROM settings WHERE key = ?', [key]);
    return rows[0] ? String(rows[0].value) : undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.run(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }
}
