// The gateway ⇄ platform envelope (docs/protocol.md): one CBOR map per MQTT message, JSON accepted for
// debugging. This file is the codec and the validator; it knows nothing of MQTT or of devices.
import { Decoder, Encoder, type Options as CborOptions } from 'cbor-x';
import { CborCheckError, checkCbor } from './cbor-check.ts';
import { NOT_READ, readCbor } from './cbor-read.ts';

export const PROTOCOL_VERSION = 1 as const;

export const EnvelopeKind = {
  Data: 'data',
  Birth: 'birth',
  Will: 'will',
  Cmd: 'cmd',
  CmdResult: 'cmd-result',
  Query: 'query',
  Status: 'status',
  Report: 'report',
  ReportAck: 'report-ack',
  DataAck: 'data-ack',
  Heartbeat: 'heartbeat',
  Catalog: 'catalog',
  CatalogRequest: 'catalog-request',
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/** Kinds the gateway publishes on `mqiot/gw/{id}/up`. */
export const UPLINK_KINDS: readonly EnvelopeKind[] = [
  'data',
  'birth',
  'will',
  'cmd-result',
  'status',
  'report',
  'catalog',
];
/** Kinds the platform publishes on `mqiot/gw/{id}/down`. */
export const DOWNLINK_KINDS: readonly EnvelopeKind[] = [
  'cmd',
  'query',
  'report-ack',
  'data-ack',
  'heartbeat',
  'catalog-request',
];
/** Uplink kinds a platform may promise to acknowledge once stored (`heartbeat.acks`, `data-ack`). */
export const ACKED_KINDS = ['data'] as const;
/**
 * Uplink kinds that form the ordered, deduplicated stream (docs/protocol.md "Sequence numbers"):
 * they go through the gateway's outbox and the platform applies each `seq` at most once.
 */
export const ORDERED_KINDS: readonly EnvelopeKind[] = ['data', 'cmd-result', 'status', 'report', 'catalog'];

interface Common {
  v: typeof PROTOCOL_VERSION;
  gw: string;
  /** Uplink: the gateway's sequence number (required). Downlink: the platform's own counter (optional). */
  seq: number;
  /** Milliseconds since the Unix epoch, sender's clock. */
  ts: number;
}

export interface Frame {
  dev: string;
  /** Contract id that decodes `raw` (e.g. 'modbus-tcp', 'dlt645-2007'). */
  c: string;
  ts: number;
  /** Per-device frame counter, from 0, increasing by one per frame. */
  seq: number;
  raw: Uint8Array;
  /** Decoding context the frame does not carry itself (Modbus: { unit, function, start, count }). */
  ctx?: Record<string, unknown>;
  /**
   * Set on receipt, never sent: what is wrong with this frame's decoding hints (`c`, `ctx`). The frame
   * still names its device, time and bytes, so the receiver keeps it as a frame error and keeps the
   * rest of the group; one sloppy frame must not cost the readings of every other device.
   */
  fault?: { field: string; reason: string };
}

export interface DeviceInfo {
  dev: string;
  c: string;
  model?: string;
  pollMs?: number;
  transport?: string;
  address?: string;
  meta?: Record<string, unknown>;
}

/** A contract or device model a gateway uses, named by id, version and a hash of its text (docs/protocol.md, "Catalog"). */
export interface CatalogItem {
  kind: 'contract' | 'model';
  id: string;
  version: string;
  /** `sha256:` and the hex SHA-256 of the document's text with LF line endings. */
  hash: string;
}

export interface DataEnvelope extends Common {
  k: 'data';
  frames: Frame[];
  /** The gateway keeps this group until a `data-ack` names it (asked only of a platform that offers it). */
  ack?: boolean;
  /** This group may have been delivered before: the platform checks its store before applying it. */
  re?: boolean;
}
export interface BirthEnvelope extends Common {
  k: 'birth';
  /** Random id of the gateway's sequence counter; a new epoch means seq restarted (new disk store). */
  epoch: string;
  devices: DeviceInfo[];
  sw?: string;
  /** Optional: the contracts and models the gateway decodes and polls with (absent from older gateways). */
  catalog?: CatalogItem[];
}
export interface WillEnvelope extends Common {
  k: 'will';
  // `seq` of a will is the seq of the birth of the connection it belongs to: a will older than the
  // latest birth is stale (the gateway already came back) and the platform ignores it.
  epoch?: string;
  reason?: string;
}
export interface CmdEnvelope extends Omit<Common, 'seq'> {
  k: 'cmd';
  seq?: number;
  id: string;
  dev: string;
  action: string;
  params: Record<string, unknown>;
}
export interface CmdResultEnvelope extends Common {
  k: 'cmd-result';
  id: string;
  dev: string;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: string;
  /** True when answered from the idempotency cache (the command was not executed again). */
  cached?: boolean;
}
export interface QueryEnvelope extends Omit<Common, 'seq'> {
  k: 'query';
  seq?: number;
  id: string;
  /** Restrict the answer to these devices; all devices when absent. */
  devs?: string[];
}
export interface StatusEnvelope extends Common {
  k: 'status';
  id: string;
  complete: boolean;
  status: Record<string, unknown>;
  error?: string;
}
export interface ReportEnvelope extends Common {
  k: 'report';
  report: Record<string, unknown>;
}
export interface ReportAckEnvelope extends Omit<Common, 'seq'> {
  k: 'report-ack';
  seq?: number;
  /** The `seq` of the report acknowledged. */
  ack: number;
}
export interface DataAckEnvelope extends Omit<Common, 'seq'> {
  k: 'data-ack';
  seq?: number;
  /** The `seq`s of the data groups now durably stored (or found stored already). */
  acks: number[];
}
export interface HeartbeatEnvelope extends Omit<Common, 'seq'> {
  k: 'heartbeat';
  seq?: number;
  /** The platform's heartbeat period in ms (informational). */
  interval?: number;
  /** Uplink kinds this platform acknowledges once stored, when the gateway asks (`['data']`). */
  acks?: string[];
}

/** The documents the platform asked for, with their text (up, in answer to `catalog-request`). */
export interface CatalogEnvelope extends Common {
  k: 'catalog';
  items: (CatalogItem & { source: string })[];
  /** Asked-for items the gateway does not have (e.g. a built-in it cannot read the text of). */
  missing?: { kind: 'contract' | 'model'; id: string }[];
}
/** The platform lacks (or holds another version of) these documents: the gateway sends them in a `catalog`. */
export interface CatalogRequestEnvelope extends Omit<Common, 'seq'> {
  k: 'catalog-request';
  seq?: number;
  items: { kind: 'contract' | 'model'; id: string }[];
}

export type Envelope =
  | DataEnvelope
  | BirthEnvelope
  | WillEnvelope
  | CmdEnvelope
  | CmdResultEnvelope
  | QueryEnvelope
  | StatusEnvelope
  | ReportEnvelope
  | ReportAckEnvelope
  | DataAckEnvelope
  | HeartbeatEnvelope
  | CatalogEnvelope
  | CatalogRequestEnvelope;
export type UplinkEnvelope =
  | DataEnvelope
  | BirthEnvelope
  | WillEnvelope
  | CmdResultEnvelope
  | StatusEnvelope
  | ReportEnvelope
  | CatalogEnvelope;
export type DownlinkEnvelope =
  | CmdEnvelope
  | QueryEnvelope
  | ReportAckEnvelope
  | DataAckEnvelope
  | HeartbeatEnvelope
  | CatalogRequestEnvelope;
export type EnvelopeOf<K extends EnvelopeKind> = Extract<Envelope, { k: K }>;

export class EnvelopeError extends Error {
  /** Dotted path of the offending field ('' for the whole message). */
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(field ? `${field}: ${message}` : message, options);
    this.name = 'EnvelopeError';
    this.field = field;
  }
}

// Plain CBOR maps with string keys (no cbor-x records or typed-array tags) so any CBOR library can read it.
const cbor = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
});
// Reads what any encoder writes (docs/protocol.md "CBOR accepted"): checkCbor() has already refused what
// the protocol cannot use, so a 64-bit integer here fits a number exactly and int64AsNumber is lossless.
// (int64AsNumber is a cbor-x option its type declarations leave out.)
const decoder = new Decoder({
  useRecords: false,
  mapsAsObjects: true,
  int64AsNumber: true,
} as CborOptions & { int64AsNumber: boolean });
const JSON_FIRST_BYTE = 0x7b; // '{' — a CBOR map never starts with it (0x7b is a text-string header)

export function encodeEnvelope(msg: Envelope): Buffer {
  validateEnvelope(msg); // never put an invalid message on the wire
  return cbor.encode(stripUndefined(msg));
}

/** JSON form for debugging and tools: bytes become hex strings. */
export function encodeEnvelopeJson(msg: Envelope): string {
  validateEnvelope(msg);
  return JSON.stringify(msg, (_key, value: unknown) =>
    value instanceof Uint8Array || (isRecord(value) && value.type === 'Buffer' && Array.isArray(value.data))
      ? Buffer.from(value instanceof Uint8Array ? value : (value.data as number[])).toString('hex')
      : value,
  );
}

export function decodeEnvelope(buf: Uint8Array): Envelope {
  if (buf.length === 0) throw new EnvelopeError('', 'empty message');
  let value: unknown;
  const json = buf[0] === JSON_FIRST_BYTE;
  try {
    value = json ? JSON.parse(Buffer.from(buf).toString('utf8')) : decodeCbor(buf);
  } catch (err) {
    if (err instanceof CborCheckError) throw new EnvelopeError(err.field, err.message);
    throw new EnvelopeError('', `not valid ${json ? 'JSON' : 'CBOR'}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return validateEnvelope(value, json, { tolerateFrameFaults: true });
}

/**
 * The value of a CBOR message: the one-pass reader (cbor-read.ts) for what it plainly accepts; anything
 * else — and every refusal, with its field and reason — through checkCbor() and cbor-x.
 */
function decodeCbor(buf: Uint8Array): unknown {
  const value = readCbor(buf);
  return value !== NOT_READ ? value : decoder.decode(checkCbor(buf));
}

/**
 * Checks every field of every kind; returns the value typed (bytes normalised to Buffer). With
 * `tolerateFrameFaults` (on receipt) a data frame whose `c` or `ctx` is wrong is marked with `fault`
 * instead of failing the whole message; without it (before sending) every fault is an error.
 */
export function validateEnvelope(
  value: unknown,
  fromJson = false,
  options: { tolerateFrameFaults?: boolean } = {},
): Envelope {
  const m = record(value, '');
  if (m.v !== PROTOCOL_VERSION) throw new EnvelopeError('v', `unsupported version ${String(m.v)}`);
  const k = m.k;
  if (typeof k !== 'string' || !KINDS.has(k))
    throw new EnvelopeError('k', `unknown kind ${JSON.stringify(k)}`);
  str(m, 'gw');
  int(m, 'ts');
  if (UPLINK_KINDS.includes(k as EnvelopeKind)) int(m, 'seq');
  else optInt(m, 'seq');
  switch (k as EnvelopeKind) {
    case 'data': {
      // An indexed loop, and the path `frames[i]` only made for a frame that needs the full check.
      const frames = arr(m, 'frames', 1);
      const tolerate = options.tolerateFrameFaults === true;
      for (let i = 0; i < frames.length; i++)
        if (!isPlainFrame(frames[i])) validateFrame(frames[i], `frames[${i}]`, fromJson, tolerate);
      if (m.ack !== undefined) bool(m, 'ack');
      if (m.re !== undefined) bool(m, 're');
      break;
    }
    case 'birth':
      str(m, 'epoch');
      optStr(m, 'sw');
      arr(m, 'devices', 0).forEach((d, i) => validateDevice(d, `devices[${i}]`));
      if (m.catalog !== undefined)
        arr(m, 'catalog', 0).forEach((c, i) => validateCatalogItem(c, `catalog[${i}]`, false));
      break;
    case 'catalog':
      arr(m, 'items', 0).forEach((c, i) => validateCatalogItem(c, `items[${i}]`, true));
      if (m.missing !== undefined)
        arr(m, 'missing', 0).forEach((c, i) => validateCatalogRef(c, `missing[${i}]`));
      break;
    case 'catalog-request':
      arr(m, 'items', 1).forEach((c, i) => validateCatalogRef(c, `items[${i}]`));
      break;
    case 'will':
      optStr(m, 'epoch');
      optStr(m, 'reason');
      break;
    case 'cmd':
      str(m, 'id');
      str(m, 'dev');
      str(m, 'action');
      if (m.params === undefined) m.params = {};
      record(m.params, 'params');
      break;
    case 'cmd-result':
      str(m, 'id');
      str(m, 'dev');
      bool(m, 'ok');
      if (m.result !== undefined) record(m.result, 'result');
      optStr(m, 'error');
      if (m.cached !== undefined) bool(m, 'cached');
      if (m.ok === false && m.error === undefined)
        throw new EnvelopeError('error', 'required when ok is false');
      break;
    case 'query':
      str(m, 'id');
      if (m.devs !== undefined) arr(m, 'devs', 0).forEach((d, i) => str({ d }, 'd', `devs[${i}]`));
      break;
    case 'status':
      str(m, 'id');
      bool(m, 'complete');
      record(m.status, 'status');
      optStr(m, 'error');
      break;
    case 'report':
      record(m.report, 'report');
      break;
    case 'report-ack':
      // Early drafts put the acknowledged seq in `seq`; accept that when `ack` is absent.
      if (m.ack === undefined && typeof m.seq === 'number') m.ack = m.seq;
      int(m, 'ack');
      break;
    case 'data-ack':
      arr(m, 'acks', 0).forEach((a, i) => int({ a }, 'a', `acks[${i}]`));
      break;
    case 'heartbeat':
      optInt(m, 'interval');
      if (m.acks !== undefined) arr(m, 'acks', 0).forEach((a, i) => str({ a }, 'a', `acks[${i}]`));
      break;
  }
  return m as unknown as Envelope;
}

const KINDS: ReadonlySet<string> = new Set(Object.values(EnvelopeKind));

/**
 * The check of a frame on the hot path: true when it is a frame validateFrame() would pass without
 * changing anything but removing `fault` — every field right and `raw` a Buffer already (cbor-x and
 * readCbor() give a view of the received Buffer). Anything else goes through validateFrame(), which
 * normalises `raw`, names the field of an error or marks the frame's fault.
 */
function isPlainFrame(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const ctx = value.ctx;
  if (
    !isText(value.dev) ||
    !isCount(value.ts) ||
    !isCount(value.seq) ||
    !(value.raw instanceof Buffer) ||
    !isText(value.c) ||
    (ctx !== undefined && !isRecord(ctx))
  )
    return false;
  if ('fault' in value) delete value.fault; // a sender cannot pre-mark a frame
  return true;
}
// the rules str() and int() enforce, as tests: the fast frame check and the full one cannot drift apart
const isText = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function validateFrame(value: unknown, path: string, fromJson: boolean, tolerateFaults: boolean): void {
  const f = record(value, path);
  // Without these the frame cannot be attributed or stored: the message is refused.
  str(f, 'dev', `${path}.dev`);
  int(f, 'ts', `${path}.ts`);
  int(f, 'seq', `${path}.seq`);
  f.raw = bytes(f.raw, `${path}.raw`, fromJson);
  delete f.fault; // a sender cannot pre-mark a frame
  // Decoding hints: wrong ones spoil only this frame's decoding.
  try {
    str(f, 'c', `${path}.c`);
    if (f.ctx !== undefined) record(f.ctx, `${path}.ctx`);
  } catch (err) {
    if (!tolerateFaults || !(err instanceof EnvelopeError)) throw err;
    f.fault = { field: err.field.slice(path.length + 1), reason: err.message };
    f.c = '';
    delete f.ctx;
  }
}

function validateDevice(value: unknown, path: string): void {
  const d = record(value, path);
  str(d, 'dev', `${path}.dev`);
  str(d, 'c', `${path}.c`);
  for (const key of ['model', 'transport', 'address'] as const) optStr(d, key, `${path}.${key}`);
  optInt(d, 'pollMs', `${path}.pollMs`);
  if (d.meta !== undefined) record(d.meta, `${path}.meta`);
}

function validateCatalogRef(value: unknown, path: string): Record<string, unknown> {
  const c = record(value, path);
  if (c.kind !== 'contract' && c.kind !== 'model')
    throw new EnvelopeError(`${path}.kind`, "must be 'contract' or 'model'");
  str(c, 'id', `${path}.id`);
  return c;
}

function validateCatalogItem(value: unknown, path: string, withSource: boolean): void {
  const c = validateCatalogRef(value, path);
  str(c, 'version', `${path}.version`);
  str(c, 'hash', `${path}.hash`);
  if (withSource) str(c, 'source', `${path}.source`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}
function record(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new EnvelopeError(path, 'must be a map');
  return value;
}
function str(m: Record<string, unknown>, key: string, path = key): string {
  const v = m[key];
  if (!isText(v)) throw new EnvelopeError(path, 'must be a non-empty string');
  return v as string;
}
function optStr(m: Record<string, unknown>, key: string, path = key): void {
  if (m[key] !== undefined && typeof m[key] !== 'string') throw new EnvelopeError(path, 'must be a string');
}
function int(m: Record<string, unknown>, key: string, path = key): number {
  const v = m[key];
  if (!isCount(v)) throw new EnvelopeError(path, 'must be a non-negative integer');
  return v as number;
}
function optInt(m: Record<string, unknown>, key: string, path = key): void {
  if (m[key] !== undefined) int(m, key, path);
}
function bool(m: Record<string, unknown>, key: string, path = key): void {
  if (typeof m[key] !== 'boolean') throw new EnvelopeError(path, 'must be a boolean');
}
function arr(m: Record<string, unknown>, key: string, min: number): unknown[] {
  const v = m[key];
  if (!Array.isArray(v)) throw new EnvelopeError(key, 'must be an array');
  if (v.length < min) throw new EnvelopeError(key, `must hold at least ${min} item(s)`);
  return v;
}
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
function bytes(value: unknown, path: string, fromJson: boolean): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (fromJson && typeof value === 'string') {
    const hex = value.replace(/\s+/g, '');
    if (HEX.test(hex)) return Buffer.from(hex, 'hex');
    throw new EnvelopeError(path, 'must be hex bytes ("01 03 00 00")');
  }
  throw new EnvelopeError(path, fromJson ? 'must be a hex string' : 'must be a CBOR byte string');
}
// Integers beyond 32 bits (millisecond timestamps) stay float64, as cbor-x writes them: exact up to 2^53,
// and what mqiot platforms before uint64 support was added require. RFC 8949's preferred form would be a
// uint64 (write it as BigInt here) once no such platform is left.
function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = stripUndefined(v);
  return out;
}
