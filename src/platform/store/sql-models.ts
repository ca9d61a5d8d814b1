// Device models in the SQL store: uploaded model versions (as contract versions are kept) and the model
// assigned to each device, with how sure the platform is and how it came to it.
import type { DialectTypes } from './dialect-types.ts';
import type { SqlDriver } from './driver.ts';
import type { DeviceModelRecord, ModelVersionRecord } from './types.ts';

type Row = Record<string, unknown>;

export function modelsSchemaSql(t: DialectTypes): string {
  return `
CREATE TABLE IF NOT EXISTS model_versions (
  id TEXT NOT NULL,
  version TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  PRIMARY KEY (id, version)
);

CREATE TABLE IF NOT EXISTS device_models (
  device_id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  confidence ${t.real} NOT NULL,
  identified_by TEXT NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
`;
}

export class SqlModels {
  constructor(private readonly db: SqlDriver) {}

  async saveModelVersion(m: ModelVersionRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO model_versions (id, version, source, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id, version) DO UPDATE SET source = excluded.source, created_at = excluded.created_at`,
      [m.id, m.version, m.source, m.createdAt],
    );
  }

  async listModelVersions(): Promise<ModelVersionRecord[]> {
    const rows = await this.db.all<Row>('SELECT * FROM model_versions ORDER BY id, created_at, version');
    return rows.map((r) => ({
      id: String(r.id),
      version: String(r.version),
      source: String(r.source),
      createdAt: Number(r.created_at),
    }));
  }

  async setDeviceModel(d: DeviceModelRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO device_models (device_id, model_id, confidence, identified_by, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET model_id = excluded.model_id, confidence = excluded.confidence,
         identified_by = excluded.identified_by, updated_at = excluded.updated_at`,
      [d.deviceId, d.modelId, d.confidence, d.identifiedBy, d.updatedAt],
    );
  }

  async clearDeviceModel(deviceId: string): Promise<void> {
    await this.db.run('DELETE FROM device_models WHERE device_id = ?', [deviceId]);
  }

  async listDeviceModels(): Promise<DeviceModelRecord[]> {
    const rows = await this.db.all<Row>('SELECT * FROM device_models ORDER BY device_id');
    return rows.map((r) => ({
      deviceId: String(r.device_id),
      modelId: String(r.model_id),
      confidence: Number(r.confidence),
      identifiedBy: String(r.identified_by),
      updatedAt: Number(r.updated_at),
    }));
  }
}
