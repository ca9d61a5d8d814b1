// Row ⇄ record mapping shared by both dialects.
import type {
  Asset,
  CommandRecord,
  DeviceRecord,
  EventRecord,
  GatewayRecord,
  Lifecycle,
  PointRow,
  PointValue,
} from './types.ts';
import type { SqlValue } from './driver.ts';

export const ValueType = { Number: 'n', Boolean: 'b', String: 's' } as const;
type ValueType = (typeof ValueType)[keyof typeof ValueType];

export function encodeValue(value: PointValue): {
  num: number | null;
  text: string | null;
  vtype: ValueType;
} {
  if (typeof value === 'number') return { num: value, text: null, vtype: ValueType.Number };
  if (typeof value === 'boolean') return { num: value ? 1 : 0, text: null, vtype: ValueType.Boolean };
  return { num: null, text: String(value), vtype: ValueType.String };
}

export function decodeValue(num: number | null, text: string | null, vtype: string): PointValue {
  if (vtype === ValueType.Boolean) return num === 1;
  if (vtype === ValueType.String) return text ?? '';
  return Number(num);
}

type Row = Record<string, unknown>;
const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toPointRow(row: Row): PointRow {
  return {
    deviceId: String(row.device_id),
    name: String(row.name),
    ts: Number(row.ts),
    value: decodeValue(n(row.value_num), s(row.value_text), String(row.vtype)),
    unit: s(row.unit),
  };
}

function toAsset(row: Row): Asset {
  return {
    name: s(row.name),
    type: s(row.type),
    model: s(row.model),
    location: s(row.location),
    tags: JSON.parse(String(row.tags ?? '[]')) as string[],
    installDate: s(row.install_date),
    attributes: JSON.parse(String(row.attributes ?? '{}')) as Record<string, unknown>,
    lifecycle: String(row.lifecycle) as Lifecycle,
  };
}

export function toGateway(row: Row): GatewayRecord {
  return {
    id: String(row.id),
    ...toAsset(row),
    online: Number(row.online) === 1,
    lastSeen: n(row.last_seen),
    onlineChangedAt: n(row.online_changed_at),
    createdAt: Number(row.created_at),
  };
}

export function toDevice(row: Row): DeviceRecord {
  return {
    id: String(row.id),
    gatewayId: s(row.gateway_id),
    contractId: s(row.contract_id),
    pollMs: n(row.poll_ms),
    ...toAsset(row),
    online: Number(row.online) === 1,
    lastSeen: n(row.last_seen),
    onlineChangedAt: n(row.online_changed_at),
    createdAt: Number(row.created_at),
  };
}

export function toEvent(row: Row): EventRecord {
  return {
    id: Number(row.id),
    ts: Number(row.ts),
    kind: String(row.kind),
    subjectType: String(row.subject_type) as EventRecord['subjectType'],
    subjectId: String(row.subject_id),
    detail: JSON.parse(String(row.detail)) as Record<string, unknown>,
  };
}

export function toCommand(row: Row): CommandRecord {
  return {
    id: String(row.id),
    kind: String(row.kind) as CommandRecord['kind'],
    gatewayId: String(row.gateway_id),
    deviceId: s(row.device_id),
    action: String(row.action),
    params: JSON.parse(String(row.params)) as Record<string, unknown>,
    state: String(row.state) as CommandRecord['state'],
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    result: row.result === null || row.result === undefined ? null : JSON.parse(String(row.result)),
    error: s(row.error),
    history: JSON.parse(String(row.history)) as CommandRecord['history'],
    requestedBy: s(row.requested_by),
  };
}

/** Column name ⇄ asset field, for patches. */
export const ASSET_COLUMNS: Record<string, string> = {
  name: 'name',
  type: 'type',
  model: 'model',
  location: 'location',
  tags: 'tags',
  installDate: 'install_date',
  attributes: 'attributes',
  lifecycle: 'lifecycle',
  pollMs: 'poll_ms',
  contractId: 'contract_id',
};

export function assetValue(field: string, value: unknown): SqlValue {
  if (field === 'tags' || field === 'attributes')
    return JSON.stringify(value ?? (field === 'tags' ? [] : {}));
  if (value === undefined || value === null) return null;
  return typeof value === 'number' ? value : String(value);
}

/** CSV field quoting per RFC 4180. */
export function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Adds one WHERE condition with its parameter. */
export function addClause(clauses: string[], params: SqlValue[], sql: string, value: SqlValue): void {
  clauses.push(sql);
  params.push(value);
}
