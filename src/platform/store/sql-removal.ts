// Removing devices and gateways from the registry, with or without their data, in one transaction.
// Events stay either way: they are the history, including the removal itself.
import type { BatchStatement, SqlDriver, SqlValue } from './driver.ts';
import type { Removed } from './types.ts';

/**
 * Statements deleting the data of these devices: readings, rollups and latest values (keyed by the
 * device's series; the series rows themselves stay, so ids cached by the telemetry store stay valid
 * for a device that comes back) and commands. Raw frames are kept per data group of a gateway, not
 * per device: they go with the gateway (deleteGateway) or with retention.
 */
function deviceData(ids: SqlValue[]): BatchStatement[] {
  const list = ids.map(() => '?').join(', ');
  const series = `SELECT id FROM series WHERE device_id IN (${list})`;
  return [
    ...['sample_blocks', 'minute_rollups', 'latest_values'].map((table) => ({
      sql: `DELETE FROM ${table} WHERE series_id IN (${series})`,
      params: ids,
    })),
    { sql: `DELETE FROM commands WHERE device_id IN (${list})`, params: ids },
  ];
}

export class SqlRemoval {
  constructor(private readonly db: SqlDriver) {}

  /** Deletes device `id`; undefined when there is none. With `dropData` its readings and commands too. */
  async deleteDevice(id: string, dropData: boolean): Promise<Removed | undefined> {
    const found = await this.db.all('SELECT id FROM devices WHERE id = ?', [id]);
    if (found.length === 0) return undefined;
    const data = dropData ? deviceData([id]) : [];
    const counts = await this.db.batch([
      ...data,
      { sql: 'DELETE FROM devices WHERE id = ?', params: [id] },
      { sql: 'DELETE FROM device_models WHERE device_id = ?', params: [id] },
    ]);
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
          ...(devices.length ? deviceData(devices) : []),
          { sql: 'DELETE FROM frame_groups WHERE gateway_id = ?', params: [id] },
          { sql: 'DELETE FROM commands WHERE gateway_id = ?', params: [id] },
          { sql: 'DELETE FROM reports WHERE gateway_id = ?', params: [id] },
        ]
      : [];
    const counts = await this.db.batch([
      ...data,
      {
        sql: 'DELETE FROM device_models WHERE device_id IN (SELECT id FROM devices WHERE gateway_id = ?)',
        params: [id],
      },
      { sql: 'DELETE FROM devices WHERE gateway_id = ?', params: [id] },
      { sql: 'DELETE FROM gateways WHERE id = ?', params: [id] },
    ]);
    return { devices, dataRows: sum(counts, data.length) };
  }
}

/** Rows changed by the first `n` statements of a batch (the data deletes). */
function sum(counts: number[], n: number): number {
  return counts.slice(0, n).reduce((a, b) => a + b, 0);
}
