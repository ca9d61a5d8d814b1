// Linkage rules in the SQL store: one row per rule, its JSON document as TEXT (both dialects alike).
import type { SqlDriver } from './driver.ts';
import type { RuleRow } from './types.ts';

type Row = Record<string, unknown>;

function toRule(row: Row): RuleRow {
  return {
    id: String(row.id),
    definition: JSON.parse(String(row.definition)) as Record<string, unknown>,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export class SqlRules {
  constructor(private readonly db: SqlDriver) {}

  async listRules(): Promise<RuleRow[]> {
    return (await this.db.all<Row>('SELECT * FROM rules ORDER BY id')).map(toRule);
  }

  async getRule(id: string): Promise<RuleRow | undefined> {
    const rows = await this.db.all<Row>('SELECT * FROM rules WHERE id = ?', [id]);
    return rows[0] ? toRule(rows[0]) : undefined;
  }

  async saveRule(rule: RuleRow): Promise<void> {
    await this.db.run(
      `INSERT INTO rules (id, definition, created_at, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
      [rule.id, JSON.stringify(rule.definition), rule.createdAt, rule.updatedAt],
    );
  }

  async deleteRule(id: string): Promise<boolean> {
    const { changes } = await this.db.run('DELETE FROM rules WHERE id = ?', [id]);
    return changes > 0;
  }
}
