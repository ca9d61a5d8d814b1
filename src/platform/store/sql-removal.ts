// Removing devices and gateways from the registry, with or without their data, in one transaction.
// Events stay either way: they are the history, including the removal itself.
import type { BatchStatement, SqlDriver, SqlValue } from './driver.ts';
import type { Removed } from './types.ts';

/** Tables holding a device's data, by device id. */
const DEVICE_DATA = ['points', 'rollups', 'latest', 'frames', 'commands'] as const;

export class SqlRemoval {
  constructor(private readonly db: SqlDriver) {}

  /** Deletes device `id`; undefined when there is none. With `dropData` its readings, frames and commands too. */
  async deleteDevice(id: string, dropData: boolean): Promise<Removed | undefined> {
    const found = await this.db.all('SELECT id FROM devices WHERE id = ?', [id]);
    if (found.length === 0) return undefined;
    const data = dropData ? DEVICE_DATA.map((table) => byDevice(table, [id])) : [];
    const counts = await this.db.batch([...data, { sql: 'DELETE FROM devices WHERE id = ?', params: [id] }]);
    return { devices: [id], dataRows: sum(counts, data.length) };
  }

  /**
   * Deletes gateway `id` and the devices registered under it; undefined when there is none. With
   * `dropData` also their data and the gateway's reports and commands. The gateway's dedup marks
   * (gateway_streams) stay, so a late resend of an old message is still recognised as a duplicate.
   */
  async deleteGateway(id: string, dropData: boolean): Promise<Removed | undefined> {
    const found = await this.db.all('SELECT id FROM gateways WHERE id = ?', [id]);
    if (found.length === 0) return undefined;
    const devices = (
      await this.db.all<{ id: string }>('SELECT id FROM devices WHERE gateway_id = ?', [id])
    ).map((d) => d.id);
    const data: BatchStatement[] = dropData
      ? [
          ...(devices.length ? DEVICE_DATA.map((table) => byDevice(table, devices)) : []),
          { sql: 'DELETE FROM commands WHERE gateway_id = ?', params: [id] },
          { sql: 'DELETE FROM reports WHERE gateway_id = ?', params: [id] },
        ]
      : [];
    const counts = await this.db.batch([
      ...data,
      { sql: 'DELETE FROM devices WHERE gateway_id = ?', params: [id] },
      { sql: 'DELETE FROM gateways WHERE id = ?', params: [id] },
    ]);
    return { devices, dataRows: sum(counts, data.length) };
  }
}

function byDevice(table: string, ids: SqlValue[]): BatchStatement {
  return { sql: `DELETE FROM ${table} WHERE device_id IN (${ids.map(() => '?').join(', ')})`, params: ids };
}

/** Rows changed by the first `n` statements of a batch (the data deletes). */
function sum(counts: number[], n: number): number {
  return counts.slice(0, n).reduce((a, b) => a + b, 0);
}
