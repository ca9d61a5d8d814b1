// Alarms and alarm rules in the SQL store (both dialects alike). At most one active alarm per
// (originator, type) is a unique partial index, so instances sharing one PostgreSQL cannot raise the
// same alarm twice: the second insert changes nothing and the caller reads the one that won.
import type {
  AlarmCounts,
  AlarmFilter,
  AlarmKey,
  AlarmRecord,
  AlarmRuleRow,
  AlarmSeverity,
  AlarmStore,
  NewAlarm,
} from './alarm-types.ts';
import type { DialectTypes } from './dialect-types.ts';
import type { SqlDriver, SqlValue } from './driver.ts';
import type { Page } from './page.ts';

type Row = Record<string, unknown>;

const MAX_PAGE = 1000;
const SEVERITIES: readonly AlarmSeverity[] = ['critical', 'major', 'minor', 'warning', 'indeterminate'];

export function alarmsSchemaSql(t: DialectTypes): string {
  return `
CREATE TABLE IF NOT EXISTS alarms (
  id ${t.serial},
  originator_type TEXT NOT NULL,
  originator_id TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  rule_id TEXT,
  message TEXT NOT NULL,
  value TEXT,
  active INTEGER NOT NULL,
  acknowledged INTEGER NOT NULL,
  raised_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  ack_at ${t.bigint},
  ack_by TEXT,
  cleared_at ${t.bigint},
  cleared_by TEXT,
  history TEXT NOT NULL
);
-- one active alarm per (originator, type), whichever instance raises it
CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_active ON alarms (originator_type, originator_id, type) WHERE active = 1;
CREATE INDEX IF NOT EXISTS alarms_originator ON alarms (originator_type, originator_id, raised_at);
CREATE INDEX IF NOT EXISTS alarms_raised ON alarms (raised_at);

CREATE TABLE IF NOT EXISTS alarm_rules (
  id TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
`;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toAlarm(row: Row): AlarmRecord {
  return {
    id: Number(row.id),
    originatorType: String(row.originator_type) as AlarmRecord['originatorType'],
    originatorId: String(row.originator_id),
    type: String(row.type),
    severity: String(row.severity) as AlarmSeverity,
    ruleId: str(row.rule_id),
    message: String(row.message),
    value: row.value === null || row.value === undefined ? null : JSON.parse(String(row.value)),
    active: Number(row.active) === 1,
    acknowledged: Number(row.acknowledged) === 1,
    raisedAt: Number(row.raised_at),
    updatedAt: Number(row.updated_at),
    ackAt: num(row.ack_at),
    ackBy: str(row.ack_by),
    clearedAt: num(row.cleared_at),
    clearedBy: str(row.cleared_by),
    history: JSON.parse(String(row.history)) as AlarmRecord['history'],
  };
}

function toRule(row: Row): AlarmRuleRow {
  return {
    id: String(row.id),
    definition: JSON.parse(String(row.definition)) as Record<string, unknown>,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** The columns every write sets, in one order. */
function stateParams(a: NewAlarm): SqlValue[] {
  return [
    a.severity,
    a.ruleId,
    a.message,
    a.value === null ? null : JSON.stringify(a.value),
    a.active ? 1 : 0,
    a.acknowledged ? 1 : 0,
    a.updatedAt,
    a.ackAt,
    a.ackBy,
    a.clearedAt,
    a.clearedBy,
    JSON.stringify(a.history),
  ];
}

export class SqlAlarms implements AlarmStore {
  constructor(private readonly db: SqlDriver) {}

  async insertAlarm(alarm: NewAlarm): Promise<AlarmRecord | undefined> {
    const rows = await this.db.all<Row>(
      `INSERT INTO alarms (originator_type, originator_id, type, raised_at, severity, rule_id, message, value,
         active, acknowledged, updated_at, ack_at, ack_by, cleared_at, cleared_by, history)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING RETURNING id`,
      [alarm.originatorType, alarm.originatorId, alarm.type, alarm.raisedAt, ...stateParams(alarm)],
    );
    return rows[0] ? { ...alarm, id: Number(rows[0].id) } : undefined;
  }

  async updateAlarm(alarm: AlarmRecord): Promise<void> {
    await this.db.run(
      `UPDATE alarms SET severity = ?, rule_id = ?, message = ?, value = ?, active = ?, acknowledged = ?,
         updated_at = ?, ack_at = ?, ack_by = ?, cleared_at = ?, cleared_by = ?, history = ? WHERE id = ?`,
      [...stateParams(alarm), alarm.id],
    );
  }

  async getAlarm(id: number): Promise<AlarmRecord | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM alarms WHERE id = ?', [id]);
    return rows[0] ? toAlarm(rows[0]) : undefined;
  }

  async getActiveAlarm(key: AlarmKey): Promise<AlarmRecord | undefined> {
    const rows = await this.db.all<Row>(
      'SELECT * FROM alarms WHERE originator_type = ? AND originator_id = ? AND type = ? AND active = 1',
      [key.originatorType, key.originatorId, key.type],
    );
    return rows[0] ? toAlarm(rows[0]) : undefined;
  }

  async listAlarms(f: AlarmFilter): Promise<Page<AlarmRecord>> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    const add = (clause: string, value: SqlValue) => {
      clauses.push(clause);
      params.push(value);
    };
    if (f.active !== undefined) add('active = ?', f.active ? 1 : 0);
    if (f.acknowledged !== undefined) add('acknowledged = ?', f.acknowledged ? 1 : 0);
    if (f.severity) add('severity = ?', f.severity);
    if (f.originatorType) add('originator_type = ?', f.originatorType);
    if (f.originatorId) add('originator_id = ?', f.originatorId);
    if (f.type) add('type = ?', f.type);
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    const offset = f.offset ?? 0;
    const limit = Math.min(f.limit ?? 100, MAX_PAGE);
    const total = await this.db.all<Row>(`SELECT COUNT(*) AS n FROM alarms ${where}`, params);
    const rows = await this.db.all<Row>(
      `SELECT * FROM alarms ${where} ORDER BY raised_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return { items: rows.map(toAlarm), total: Number(total[0]?.n ?? 0), offset, limit };
  }

  async countActiveAlarms(): Promise<AlarmCounts> {
    const rows = await this.db.all<Row>(
      `SELECT severity, COUNT(*) AS n, SUM(CASE WHEN acknowledged = 0 THEN 1 ELSE 0 END) AS unack
       FROM alarms WHERE active = 1 GROUP BY severity`,
    );
    const active = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<AlarmSeverity, number>;
    let activeTotal = 0;
    let unacknowledged = 0;
    for (const row of rows) {
      const severity = String(row.severity) as AlarmSeverity;
      if (severity in active) active[severity] = Number(row.n);
      activeTotal += Number(row.n);
      unacknowledged += Number(row.unack ?? 0);
    }
    return { active, activeTotal, unacknowledged };
  }

  async listAlarmRules(): Promise<AlarmRuleRow[]> {
    return (await this.db.all<Row>('SELECT * FROM alarm_rules ORDER BY id')).map(toRule);
  }

  async getAlarmRule(id: string): Promise<AlarmRuleRow | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM alarm_rules WHERE id = ?', [id]);
    return rows[0] ? toRule(rows[0]) : undefined;
  }

  async saveAlarmRule(rule: AlarmRuleRow): Promise<void> {
    await this.db.run(
      `INSERT INTO alarm_rules (id, definition, created_at, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
      [rule.id, JSON.stringify(rule.definition), rule.createdAt, rule.updatedAt],
    );
  }

  async deleteAlarmRule(id: string): Promise<boolean> {
    const { changes } = await this.db.run('DELETE FROM alarm_rules WHERE id = ?', [id]);
    return changes > 0;
  }
}
