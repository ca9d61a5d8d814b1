// Last-communication updates of gateways and devices: run on their own (sql-registry.ts) or inside the
// transaction of a batch of readings (sql-telemetry.ts).
import type { BatchStatement } from './driver.ts';

/** A gateway's last communication; never moved back. */
export function touchGatewayStatement(id: string, at: number): BatchStatement {
  return {
    sql: 'UPDATE gateways SET last_seen = ? WHERE id = ? AND (last_seen IS NULL OR last_seen < ?)',
    params: [at, id, at],
  };
}

/** One statement per 500 devices (not one per device): on PostgreSQL each statement is a round trip. */
export function touchDevicesStatements(ids: readonly string[], at: number): BatchStatement[] {
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
  return ops;
}
