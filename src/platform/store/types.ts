// The platform's storage interface. Two implementations (SQLite and PostgreSQL) share one SQL store
// over a small driver seam, and one contract suite (test/platform/store-suite.ts) proves both.

import type { AlarmStore } from './alarm-types.ts';
import type { AuthStore } from './auth-types.ts';
import type { Page } from './page.ts';

/** What removing a device or gateway deleted. */
export interface Removed {
  /** The devices removed from the registry. */
  devices: string[];
  /** Rows of data deleted (0 when the data was kept). */
  dataRows: number;
}

export type PointValue = number | string | boolean;
export interface StoredPoint {
  name: string;
  value: PointValue;
  unit?: string;
}

/** One decoded (or undecodable) frame as the contracts stage hands it to the store. */
export interface ReadingInput {
  gatewayId: string;
  /** The gateway's sequence-counter epoch (from its birth); with groupSeq and frameIndex it makes a reading unique. */
  epoch?: string;
  /** Uplink sequence of the data group that carried the frame. */
  groupSeq: number;
  /** Position of the frame inside its data group. */
  frameIndex: number;
  deviceId: string;
  /** Per-device frame counter the gateway assigned. */
  seq: number;
  /** Device time of the reading, ms since epoch. */
  ts: number;
  receivedAt: number;
  contractId: string | null;
  raw: Uint8Array;
  points: StoredPoint[];
  /** Set when the frame failed to decode: it is kept with its error, not dropped. */
  error?: { offset: number; reason: string } | null;
  /**
   * The data group's bytes as received, the same object for each of its readings: stored as the
   * group's raw frames (frame-block.ts) instead of encoding them again.
   */
  envelope?: Uint8Array;
  /** contractId is the contract the frame named itself (its `c`). */
  contractDeclared?: boolean;
}

export interface PointRow {
  deviceId: string;
  name: string;
  ts: number;
  value: PointValue;
  unit: string | null;
}

export interface FrameRow {
  gatewayId: string;
  deviceId: string;
  seq: number;
  groupSeq: number;
  frameIndex: number;
  ts: number;
  receivedAt: number;
  contractId: string | null;
  rawHex: string;
  ok: boolean;
  error: { offset: number; reason: string } | null;
}

export interface Bucket {
  /** Start of the bucket, ms since epoch. */
  start: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  last: number;
}

export interface RangeQuery {
  deviceId: string;
  point?: string;
  from: number;
  to: number;
  limit?: number;
}
export interface AggregateQuery {
  deviceId: string;
  point: string;
  from: number;
  to: number;
  bucketMs: number;
}
export interface FrameQuery {
  deviceId?: string;
  gatewayId?: string;
  from?: number;
  to?: number;
  errorsOnly?: boolean;
  limit?: number;
}

/** `pending`: an unknown gateway recorded by `platform.unknownGateways: pending`, waiting for an operator. */
export const Lifecycle = {
  Active: 'active',
  Disabled: 'disabled',
  Retired: 'retired',
  Pending: 'pending',
} as const;
export type Lifecycle = (typeof Lifecycle)[keyof typeof Lifecycle];
export const LIFECYCLES: readonly Lifecycle[] = Object.values(Lifecycle);

/** Asset data shared by gateways and devices. */
export interface Asset {
  name: string | null;
  type: string | null;
  model: string | null;
  location: string | null;
  tags: string[];
  installDate: string | null;
  attributes: Record<string, unknown>;
  lifecycle: Lifecycle;
}
export type AssetPatch = Partial<Asset>;

export interface GatewayRecord extends Asset {
  id: string;
  online: boolean;
  lastSeen: number | null;
  onlineChangedAt: number | null;
  createdAt: number;
}

export interface DeviceRecord extends Asset {
  id: string;
  gatewayId: string | null;
  contractId: string | null;
  pollMs: number | null;
  online: boolean;
  lastSeen: number | null;
  onlineChangedAt: number | null;
  createdAt: number;
}

export interface DeviceFilter {
  gatewayId?: string;
  contractId?: string;
  type?: string;
  lifecycle?: Lifecycle;
  online?: boolean;
  tag?: string;
  search?: string;
  offset?: number;
  limit?: number;
}

export type { Page } from './page.ts';

export interface EventRecord {
  id: number;
  ts: number;
  kind: string;
  subjectType: 'gateway' | 'device' | 'command' | 'contract' | 'rule' | 'model';
  subjectId: string;
  detail: Record<string, unknown>;
}
export type EventInput = Omit<EventRecord, 'id'>;
export interface EventFilter {
  subjectType?: EventRecord['subjectType'];
  subjectId?: string;
  kind?: string;
  from?: number;
  to?: number;
  limit?: number;
  offset?: number;
}

export const CommandKind = { Command: 'command', Query: 'query' } as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

export const CommandState = {
  Pending: 'pending',
  Sent: 'sent',
  Acknowledged: 'acknowledged',
  Executed: 'executed',
  Failed: 'failed',
  TimedOut: 'timed-out',
} as const;
export type CommandState = (typeof CommandState)[keyof typeof CommandState];

export interface CommandTransition {
  state: CommandState;
  at: number;
  attempt?: number;
  detail?: unknown;
}

export interface CommandRecord {
  id: string;
  kind: CommandKind;
  gatewayId: string;
  deviceId: string | null;
  action: string;
  params: Record<string, unknown>;
  state: CommandState;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  /** The gateway's answer: command result, or query status data. */
  result: unknown;
  error: string | null;
  history: CommandTransition[];
  /** Who asked for it: a user name, or `rule:<id>` for a linkage rule; null when not known. */
  requestedBy?: string | null;
}
export interface CommandFilter {
  gatewayId?: string;
  deviceId?: string;
  kind?: CommandKind;
  state?: CommandState;
  limit?: number;
  offset?: number;
}

/** An uploaded version of a device model (docs/device-models.md). */
export interface ModelVersionRecord {
  id: string;
  version: string;
  source: string;
  createdAt: number;
}

/** The model assigned to a device: `confidence` 1 when declared or set, less when identified from frames. */
export interface DeviceModelRecord {
  deviceId: string;
  modelId: string;
  confidence: number;
  /** 'declared' (the gateway's birth), 'operator' (set through the API) or 'detected' (from its frames). */
  identifiedBy: string;
  updatedAt: number;
}

export interface ContractVersionRecord {
  id: string;
  version: string;
  source: string;
  createdAt: number;
}

export interface ReportInput {
  gatewayId: string;
  epoch: string;
  seq: number;
  ts: number;
  receivedAt: number;
  body: unknown;
}

/** Dedup state of one gateway epoch's ordered stream (null: nothing recorded yet). */
export interface StreamMark {
  gatewayId: string;
  epoch: string;
  /** Highest seq applied among data, cmd-result and status. */
  appliedSeq: number | null;
  /** Highest seq of a birth trusted as an anchor for the seq window. */
  birthSeq: number | null;
}

/** A gateway's platform-issued credentials: username `gw-<id>`, a Mosquitto `$7$` hash of its secret. */
export interface GatewayCredentialRow {
  gatewayId: string;
  hash: string;
  createdAt: number;
  updatedAt: number;
}

/** A linkage rule as stored: the validated JSON document (src/platform/rules/rule.ts) and its times. */
export interface RuleRow {
  id: string;
  definition: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** A data group's identity on the wire, as stored (`epoch` '' when the gateway gave none). */
export interface InsertedGroup {
  gatewayId: string;
  epoch: string;
  groupSeq: number;
}

export interface PlatformStore extends AuthStore, AlarmStore {
  readonly kind: 'sqlite' | 'postgres';
  close(): Promise<void>;

  // telemetry
  /**
   * Stores readings once: a frame already stored (same gateway, epoch, group seq, index) is ignored.
   * `marks` (the streams' dedup state) are raised in the same transaction. Returns how many were new.
   * `inserted` is told, after the commit, each data group this call created (not one that was stored
   * already, also not by another instance whose insert ran at the same time).
   */
  insertReadings(
    readings: readonly ReadingInput[],
    marks?: readonly StreamMark[],
    inserted?: (group: InsertedGroup) => void,
  ): Promise<number>;
  latest(deviceId: string): Promise<PointRow[]>;
  range(query: RangeQuery): Promise<PointRow[]>;
  aggregate(query: AggregateQuery): Promise<Bucket[]>;
  frames(query: FrameQuery): Promise<FrameRow[]>;
  /** CSV (header + one line per point) of a raw range. */
  exportCsv(query: RangeQuery): Promise<string>;
  /** Deletes readings with a device time older than `before`; returns the number of points deleted. */
  deleteReadingsBefore(before: number): Promise<number>;
  countPoints(deviceId?: string): Promise<number>;
  /**
   * Readings this store object has written again while merging small sample blocks: the write
   * amplification of the block layout (benchmarks and tests read it).
   */
  mergedReadings(): number;

  // registry
  /** Inserts the gateway if absent; returns true when it was new. */
  ensureGateway(id: string, now: number): Promise<boolean>;
  getGateway(id: string): Promise<GatewayRecord | undefined>;
  listGateways(): Promise<GatewayRecord[]>;
  updateGatewayAsset(id: string, patch: AssetPatch, now: number): Promise<GatewayRecord | undefined>;
  setGatewayOnline(id: string, online: boolean, at: number): Promise<void>;
  touchGateway(id: string, at: number): Promise<void>;

  /** Inserts the device if absent (fields as given); returns true when it was new. */
  ensureDevice(
    device: {
      id: string;
      gatewayId: string | null;
      contractId: string | null;
      pollMs?: number | null;
      model?: string | null;
    },
    now: number,
  ): Promise<boolean>;
  getDevice(id: string): Promise<DeviceRecord | undefined>;
  /** Removes a device (with `dropData` also its readings, frames and commands); undefined when unknown. */
  deleteDevice(id: string, dropData: boolean): Promise<Removed | undefined>;
  /** Removes a gateway and its devices (with `dropData` also their data and its reports); undefined when unknown. */
  deleteGateway(id: string, dropData: boolean): Promise<Removed | undefined>;
  listDevices(filter: DeviceFilter): Promise<Page<DeviceRecord>>;
  updateDeviceAsset(
    id: string,
    patch: AssetPatch & { pollMs?: number | null; contractId?: string | null },
    now: number,
  ): Promise<DeviceRecord | undefined>;
  setDeviceOnline(id: string, online: boolean, at: number): Promise<void>;
  touchDevices(ids: readonly string[], at: number): Promise<void>;

  addEvent(event: EventInput): Promise<EventRecord>;
  listEvents(filter: EventFilter): Promise<EventRecord[]>;

  saveCommand(command: CommandRecord): Promise<void>;
  getCommand(id: string): Promise<CommandRecord | undefined>;
  listCommands(filter: CommandFilter): Promise<CommandRecord[]>;

  /** Stores a periodic report once per (gateway, epoch, seq); returns true when it was new. */
  saveReport(report: ReportInput): Promise<boolean>;
  listReports(gatewayId: string, limit?: number): Promise<ReportInput[]>;

  saveContractVersion(record: ContractVersionRecord): Promise<void>;
  listContractVersions(id?: string): Promise<ContractVersionRecord[]>;

  // device models (store/sql-models.ts)
  saveModelVersion(record: ModelVersionRecord): Promise<void>;
  listModelVersions(): Promise<ModelVersionRecord[]>;
  setDeviceModel(record: DeviceModelRecord): Promise<void>;
  clearDeviceModel(deviceId: string): Promise<void>;
  listDeviceModels(): Promise<DeviceModelRecord[]>;

  /** The stream's dedup state; without a row, applied = the highest data group stored for that epoch. */
  getStreamMark(gatewayId: string, epoch: string): Promise<StreamMark>;
  /** Raises the stored marks (never lowers them). */
  saveStreamMark(mark: StreamMark): Promise<void>;
  /**
   * Whether the data group (gateway, epoch, seq) is stored: asked for a group that may be a resend, since
   * with several instances the in-memory mark is no proof (another instance may have died with it).
   */
  dataGroupStored(gatewayId: string, epoch: string, seq: number): Promise<boolean>;

  // gateway credentials
  getGatewayCredential(gatewayId: string): Promise<GatewayCredentialRow | undefined>;
  listGatewayCredentials(): Promise<GatewayCredentialRow[]>;
  /** Inserts when the gateway has none; returns false (nothing written) when it already has credentials. */
  insertGatewayCredential(row: GatewayCredentialRow): Promise<boolean>;
  /** Inserts or replaces (rotation). */
  putGatewayCredential(row: GatewayCredentialRow): Promise<void>;
  /** Returns true when the gateway had credentials. */
  deleteGatewayCredential(gatewayId: string): Promise<boolean>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;

  // linkage rules
  listRules(): Promise<RuleRow[]>;
  getRule(id: string): Promise<RuleRow | undefined>;
  /** Inserts or replaces the rule (createdAt of an existing rule is kept). */
  saveRule(rule: RuleRow): Promise<void>;
  /** Returns true when the rule existed. */
  deleteRule(id: string): Promise<boolean>;
}
