// Tables of the platform store, written once for both databases. Times are integer milliseconds
// since the epoch; JSON columns are TEXT so that both dialects read them the same way.
import { authSchemaSql } from './sql-auth.ts';
import { alarmsSchemaSql } from './sql-alarms.ts';
import { dialectTypes } from './dialect-types.ts';
import { modelsSchemaSql } from './sql-models.ts';
import { telemetrySchemaSql } from './telemetry-schema.ts';

export { dialectTypes, type DialectTypes } from './dialect-types.ts';

export function schemaSql(dialect: 'sqlite' | 'postgres'): string {
  const t = dialectTypes(dialect);
  return `
${telemetrySchemaSql(t)}
CREATE TABLE IF NOT EXISTS gateways (
  id TEXT PRIMARY KEY,
  name TEXT, type TEXT, model TEXT, location TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  install_date TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',
  lifecycle TEXT NOT NULL DEFAULT 'active',
  online INTEGER NOT NULL DEFAULT 0,
  last_seen ${t.bigint},
  online_changed_at ${t.bigint},
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  gateway_id TEXT,
  contract_id TEXT,
  poll_ms ${t.bigint},
  name TEXT, type TEXT, model TEXT, location TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  install_date TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',
  lifecycle TEXT NOT NULL DEFAULT 'active',
  online INTEGER NOT NULL DEFAULT 0,
  last_seen ${t.bigint},
  online_changed_at ${t.bigint},
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_gateway ON devices (gateway_id);

CREATE TABLE IF NOT EXISTS events (
  id ${t.serial},
  ts ${t.bigint} NOT NULL,
  kind TEXT NOT NULL,
  subject_type TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_subject ON events (subject_type, subject_id, ts);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);

CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  gateway_id TEXT NOT NULL,
  device_id TEXT,
  action TEXT NOT NULL,
  params TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  result TEXT,
  error TEXT,
  history TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_gateway ON commands (gateway_id, created_at);
CREATE INDEX IF NOT EXISTS commands_device ON commands (device_id, created_at);

CREATE TABLE IF NOT EXISTS reports (
  gateway_id TEXT NOT NULL,
  epoch TEXT NOT NULL,
  seq ${t.bigint} NOT NULL,
  ts ${t.bigint} NOT NULL,
  received_at ${t.bigint} NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (gateway_id, epoch, seq)
);

CREATE TABLE IF NOT EXISTS contract_versions (
  id TEXT NOT NULL,
  version TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  PRIMARY KEY (id, version)
);

CREATE TABLE IF NOT EXISTS rules (
  id TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

-- The dedup state of each gateway's ordered stream (docs/protocol.md "Sequence numbers"): the highest
-- seq applied per epoch, written in the same transaction as the readings it describes, and the highest
-- seq of a birth trusted as an anchor for the seq window.
CREATE TABLE IF NOT EXISTS gateway_streams (
  gateway_id TEXT NOT NULL,
  epoch TEXT NOT NULL,
  applied_seq ${t.bigint},
  birth_seq ${t.bigint},
  PRIMARY KEY (gateway_id, epoch)
);

-- Gateway credentials issued by the platform: a Mosquitto $7$ (PBKDF2-SHA512) hash of a random secret;
-- the secret itself is shown once and never stored. No row: the gateway has no (or revoked) credentials.
CREATE TABLE IF NOT EXISTS gateway_credentials (
  gateway_id TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
${authSchemaSql(t)}
${alarmsSchemaSql(t)}
${modelsSchemaSql(t)}`;
}
