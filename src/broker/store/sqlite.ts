/**
 * Durable SessionStore/RetainedStore on SQLite (better-sqlite3): sessions, subscriptions, outgoing
 * QoS 1/2 messages, incoming QoS 2 ids and retained messages survive a crash of the broker process.
 *
 * Durability: WAL with `synchronous = NORMAL` — a committed transaction survives the process being
 * killed (SIGKILL, OOM, crash); after an OS crash or power loss the last transactions may be lost
 * (`synchronous: 'FULL'` closes that gap at the cost of an fsync per commit).
 *
 * Group commit: the first write of an event-loop turn opens a transaction and schedules one COMMIT
 * with setImmediate; every write of that turn returns the same Promise, settled after the COMMIT. The
 * broker waits on it before PUBACK/PUBREC, so an acknowledged message is committed, and all messages
 * read from the sockets in one turn share one commit.
 *
 * Writes the broker does not wait for (session header, subscriptions, acknowledgement clean-up) are
 * fire-and-forget: their failures are logged here, and their promises never surface as unhandled
 * rejections. Loads are synchronous (they run once, at start).
 *
 * A message is stored once, however many sessions it is queued for: one row in `messages` (topic,
 * payload, properties), and per session one row in `outgoing` with that session's state (packet id,
 * QoS, subscription ids) and the message's id. Routing saves a message for its sessions one after
 * the other, so the store recognises it as the last message it stored. It counts in memory the
 * references of messages held by more than one session (a message for one session costs no memory
 * here) and deletes a message with its last reference; the counts are rebuilt from the file at open
 * and after a rolled-back transaction, so they never trust memory the file does not share.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Message, PublishProperties, QoS } from '../types.ts';
import type {
  OutgoingRecord,
  RetainedStore,
  SessionRecord,
  SessionStore,
  SubscriptionRecord,
} from './types.ts';

/**
 * Bumped when the tables change; a file with a newer version is refused, not misread, and an older
 * one is migrated at open (migrate(), below). 1: each outgoing row held its own copy of the
 * message; 2: messages are stored once and referenced.
 */
export const SQLITE_SCHEMA_VERSION = 2;

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export const SqliteSynchronous = { Normal: 'NORMAL', Full: 'FULL' } as const;
export type SqliteSynchronous = (typeof SqliteSynchronous)[keyof typeof SqliteSynchronous];

export interface SqliteStoreOptions {
  /** Database file (created with its directory if missing). */
  path: string;
  /** NORMAL (default): survives a process crash; FULL: also an OS crash / power loss. */
  synchronous?: SqliteSynchronous;
  /** How long opening waits for another process holding the file (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Where failures of writes nobody waits for are reported. */
  logger?: Logger;
}

export class SqliteStoreError extends Error {
  override name = 'SqliteStoreError';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  client_id TEXT PRIMARY KEY,
  expiry_interval INTEGER NOT NULL,
  disconnected_at INTEGER NOT NULL,
  protocol_version INTEGER NOT NULL,
  -- the last connection's user name (NULL: none); has_client 0: not known
  username TEXT,
  has_client INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions (
  client_id TEXT NOT NULL,
  filter TEXT NOT NULL,
  qos INTEGER NOT NULL,
  no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL,
  retain_handling INTEGER NOT NULL,
  subscription_id INTEGER,
  PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;
-- a routed message, once for every session it is queued for; deleted with its last outgoing row
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER NOT NULL,
  origin TEXT NOT NULL
);
-- one session's delivery of a message: state 0 queued, 1 sent, 2 PUBREL sent; subscription ids
-- as a JSON array, NULL when none
CREATE TABLE IF NOT EXISTS outgoing (
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  state INTEGER NOT NULL,
  packet_id INTEGER NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  subscription_ids TEXT,
  message_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incoming_qos2 (
  client_id TEXT NOT NULL,
  packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS retained (
  topic TEXT PRIMARY KEY,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER NOT NULL,
  origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

interface MessageRow {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  properties: string | null;
  expires_at: number;
  origin: string;
}

interface OutgoingRow {
  seq: number;
  state: number;
  packet_id: number;
  qos: number;
  retain: number;
  subscription_ids: string | null;
  message_id: number;
}

/** OutgoingRecord['state'] as stored, and back. */
const STATE_CODE = { queued: 0, sent: 1, pubrel: 2 } as const;
const STATE_NAME: readonly OutgoingRecord['state'][] = ['queued', 'sent', 'pubrel'];

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

const noop = (): void => {};

/** A rejected promise that is already "handled", so a caller that drops it causes no unhandled rejection. */
function failed(err: Error): Promise<void> {
  const p = Promise.reject(err);
  p.catch(noop);
  return p;
}

/** The retained part: writes join the turn's transaction, the load is synchronous. */
export interface SqliteRetainedStore extends RetainedStore {
  set(message: Message): Promise<void>;
  delete(topic: string): Promise<void>;
  load(): Message[];
}

export class SqliteSessionStore implements SessionStore {
  readonly retained: SqliteRetainedStore;
  readonly path: string;
  private readonly db: Database.Database;
  private readonly logger: Logger | undefined;
  private batch: Batch | undefined;
  private closed = false;
  private committed = 0;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  /**
   * The message stored last and its id: routing saves a message for all its persistent sessions one
   * after the other (one object), so the second and later sessions refer to the row the first made.
   */
  private lastMessage: Message | undefined;
  private lastId = 0;
  /**
   * Outgoing rows referring to each stored message that has more than one (this turn's writes
   * included); a message not in the map has exactly one. So a message queued for one session, the
   * common case, costs no memory here.
   */
  private refs = new Map<number, number>();
  private nextMessageId: number;
  /** Messages whose last reference went in this turn: deleted together, by one statement, before the COMMIT. */
  private freed: number[] = [];
  /**
   * Messages already read by loadOutgoing, so sessions restored at start share one object per stored
   * message, as they did before the restart. The broker loads every session in one turn at start;
   * the map is let go at the end of that turn, so it holds no message after its last session is done.
   */
  private loaded: Map<number, Message> | undefined;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.logger = options.logger;
    this.db = openDatabase(options);
    this.stmt = prepareStatements(this.db);
    this.nextMessageId = this.countReferences() + 1;
    this.retained = {
      set: (m) => this.write(() => this.stmt.setRetained.run(messageParams(m))),
      delete: (topic) => this.write(() => this.stmt.deleteRetained.run(topic)),
      load: () => (this.stmt.loadRetained.all() as MessageRow[]).map(rowToMessage),
    };
  }

  /** Transactions committed so far (for tests and figures). */
  get commits(): number {
    return this.committed;
  }

  // ---- group commit ----

  /** Runs `fn` inside this turn's transaction; resolves once that transaction is committed. */
  private write(fn: () => unknown): Promise<void> {
    if (this.closed) return failed(new SqliteStoreError('broker store is closed'));
    let batch = this.batch;
    if (batch === undefined) {
      try {
        this.db.exec('BEGIN');
      } catch (err) {
        return this.fail('cannot begin a transaction', err);
      }
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(noop);
      batch = this.batch = { promise, resolve, reject };
      setImmediate(() => this.commit(batch!));
    }
    try {
      fn();
    } catch (err) {
      // some errors (disk full, I/O) roll the whole transaction back: its earlier writes are lost too
      if (!this.db.inTransaction) this.abort(batch, err);
      return this.fail('write failed', err);
    }
    return batch.promise;
  }

  private commit(batch: Batch): void {
    if (this.batch !== batch) return; // already committed by close() or aborted
    this.batch = undefined;
    try {
      this.deleteFreed();
      this.db.exec('COMMIT');
      this.committed++;
      batch.resolve();
    } catch (err) {
      this.abort(batch, err);
    }
  }

  private abort(batch: Batch, err: unknown): void {
    if (this.batch === batch) this.batch = undefined;
    this.freed = [];
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // the transaction is gone either way
    }
    const e = new SqliteStoreError(`transaction failed: ${(err as Error).message}`, { cause: err });
    this.logger?.error({ err: e }, 'broker store: transaction rolled back');
    // the rolled-back turn may have added or removed messages: count again from what the file holds
    try {
      this.lastMessage = undefined;
      this.countReferences();
    } catch (countErr) {
      this.logger?.error({ err: countErr }, 'broker store: cannot count message references');
    }
    batch.reject(e);
  }

  /**
   * Rebuilds the reference counts from the file; returns the highest message id in use. Message ids
   * are never reused while the store is open (nextMessageId only grows).
   */
  private countReferences(): number {
    this.refs = new Map();
    for (const r of this.stmt.countReferences.iterate() as Iterable<{ message_id: number; n: number }>)
      this.refs.set(r.message_id, r.n);
    return (this.stmt.maxMessageId.get() as { id: number | null }).id ?? 0;
  }

  /** One outgoing row less for message `id`: the message goes with its last reference. */
  private release(id: number): void {
    const n = this.refs.get(id);
    if (n === undefined) {
      if (id === this.lastId) this.lastMessage = undefined;
      this.freed.push(id);
    } else if (n === 2) this.refs.delete(id);
    else this.refs.set(id, n - 1);
  }

  private deleteFreed(): void {
    const freed = this.freed;
    if (freed.length === 0) return;
    this.freed = [];
    if (freed.length === 1) this.stmt.deleteMessage.run(freed[0]);
    else this.stmt.deleteMessages.run(JSON.stringify(freed));
  }

  private fail(what: string, err: unknown): Promise<void> {
    const e = new SqliteStoreError(`${what}: ${(err as Error).message}`, { cause: err });
    this.logger?.error({ err: e }, 'broker store: write failed');
    return failed(e);
  }

  // ---- sessions ----

  loadSessions(): SessionRecord[] {
    const subs = new Map<string, SubscriptionRecord[]>();
    for (const r of this.stmt.loadSubscriptions.all() as SubscriptionRow[]) {
      let list = subs.get(r.client_id);
      if (list === undefined) subs.set(r.client_id, (list = []));
      list.push({
        filter: r.filter,
        qos: r.qos as QoS,
        noLocal: r.no_local === 1,
        retainAsPublished: r.retain_as_published === 1,
        retainHandling: r.retain_handling as 0 | 1 | 2,
        subscriptionId: r.subscription_id ?? undefined,
      });
    }
    return (this.stmt.loadSessions.all() as SessionRow[]).map((r) => ({
      clientId: r.client_id,
      expiryInterval: r.expiry_interval,
      disconnectedAt: r.disconnected_at,
      protocolVersion: r.protocol_version as 3 | 4 | 5,
      ...(r.has_client === 1 ? { username: r.username } : {}),
      subscriptions: subs.get(r.client_id) ?? [],
    }));
  }

  saveSession(rec: Omit<SessionRecord, 'subscriptions'>): Promise<void> {
    return this.write(() =>
      this.stmt.saveSession.run(
        rec.clientId,
        rec.expiryInterval,
        rec.disconnectedAt,
        rec.protocolVersion,
        rec.username ?? null,
        rec.username === undefined ? 0 : 1,
      ),
    );
  }

  deleteSession(clientId: string): Promise<void> {
    return this.write(() => {
      this.stmt.deleteSession.run(clientId);
      this.stmt.deleteSessionSubscriptions.run(clientId);
      for (const id of this.stmt.deleteSessionOutgoing.all(clientId) as number[]) this.release(id);
      this.stmt.deleteSessionIncoming.run(clientId);
    });
  }

  saveSubscription(clientId: string, sub: SubscriptionRecord): Promise<void> {
    return this.write(() =>
      this.stmt.saveSubscription.run(
        clientId,
        sub.filter,
        sub.qos,
        sub.noLocal ? 1 : 0,
        sub.retainAsPublished ? 1 : 0,
        sub.retainHandling,
        sub.subscriptionId ?? null,
      ),
    );
  }

  deleteSubscription(clientId: string, filter: string): Promise<void> {
    return this.write(() => this.stmt.deleteSubscription.run(clientId, filter));
  }

  // ---- outgoing QoS 1/2 ----

  saveOutgoing(clientId: string, rec: OutgoingRecord): Promise<void> {
    // the record is serialised now: the broker changes state/packetId in place and saves again
    return this.write(() => {
      const m = rec.message;
      // the first session a message is queued for stores it; the sessions after it refer to it
      const shared = m === this.lastMessage;
      const id = shared ? this.lastId : this.nextMessageId;
      const state = STATE_CODE[rec.state];
      const retain = rec.retain ? 1 : 0;
      const ids = rec.subscriptionIds.length === 0 ? null : JSON.stringify(rec.subscriptionIds);
      const added = this.stmt.insertOutgoing.run(
        clientId,
        rec.seq,
        state,
        rec.packetId,
        rec.qos,
        retain,
        ids,
        id,
      );
      if (added.changes === 0) {
        // saved before (a state change): only the session's own columns change, never the message
        this.stmt.updateOutgoing.run(state, rec.packetId, rec.qos, retain, ids, clientId, rec.seq);
      } else if (shared) {
        this.refs.set(id, (this.refs.get(id) ?? 1) + 1);
      } else {
        this.stmt.insertMessage.run(messageValues(id, m));
        this.nextMessageId++;
        this.lastMessage = m;
        this.lastId = id;
      }
    });
  }

  deleteOutgoing(clientId: string, seq: number): Promise<void> {
    return this.write(() => {
      const id = this.stmt.deleteOutgoing.get(clientId, seq) as number | undefined;
      if (id !== undefined) this.release(id);
    });
  }

  loadOutgoing(clientId: string): OutgoingRecord[] {
    return (this.stmt.loadOutgoing.all(clientId) as OutgoingRow[]).flatMap((r) => {
      const message = this.loadMessage(r.message_id);
      if (message === undefined) return []; // cannot happen in a file this store wrote
      return [
        {
          seq: r.seq,
          state: STATE_NAME[r.state]!,
          packetId: r.packet_id,
          qos: r.qos as QoS,
          retain: r.retain === 1,
          subscriptionIds: r.subscription_ids === null ? [] : (JSON.parse(r.subscription_ids) as number[]),
          message,
        },
      ];
    });
  }

  /** A stored message as one object for every session it is queued for. */
  private loadMessage(id: number): Message | undefined {
    let loaded = this.loaded;
    if (loaded === undefined) {
      loaded = this.loaded = new Map();
      setImmediate(() => (this.loaded = undefined));
    }
    let m = loaded.get(id);
    if (m !== undefined) return m;
    const row = this.stmt.loadMessage.get(id) as MessageRow | undefined;
    if (row === undefined) return undefined;
    m = rowToMessage(row);
    loaded.set(id, m);
    return m;
  }

  // ---- incoming QoS 2 ----

  saveIncomingQoS2(clientId: string, packetId: number): Promise<void> {
    return this.write(() => this.stmt.saveIncoming.run(clientId, packetId));
  }

  deleteIncomingQoS2(clientId: string, packetId: number): Promise<void> {
    return this.write(() => this.stmt.deleteIncoming.run(clientId, packetId));
  }

  loadIncomingQoS2(clientId: string): number[] {
    return (this.stmt.loadIncoming.all(clientId) as { packet_id: number }[]).map((r) => r.packet_id);
  }

  /** Commits what is pending (its waiters resolve) and closes the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.batch !== undefined) this.commit(this.batch);
    this.closed = true;
    this.db.close();
  }
}

/** Opens (creating if needed) and migrates the file; errors become SqliteStoreError naming the file. */
function openDatabase(options: SqliteStoreOptions): Database.Database {
  let db: Database.Database | undefined;
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    db = new Database(options.path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    // one broker per file: the lock is held until the process ends (the OS releases it if it dies)
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? SqliteSynchronous.Normal}`);
    migrate(db);
    return db;
  } catch (err) {
    db?.close();
    const busy = (err as { code?: string }).code === 'SQLITE_BUSY';
    const why = `${(err as Error).message}${busy ? ' (is another broker using this file?)' : ''}`;
    throw new SqliteStoreError(`cannot open broker store ${options.path}: ${why}`, { cause: err });
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new Error(`schema version ${version} is newer than this mqiot (${SQLITE_SCHEMA_VERSION})`);
  }
  db.transaction(() => {
    // version 1 kept a copy of the message in every outgoing row: set it aside, make the new tables, move over
    if (version === 1) db.exec('ALTER TABLE outgoing RENAME TO outgoing_v1');
    db.exec(SCHEMA);
    if (version === 1) migrateFromV1(db);
    // messages no outgoing row refers to any more (none in a file this store wrote; cheap insurance)
    db.exec('DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM outgoing)');
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    // a write takes the exclusive lock now: a second broker on this file fails at start, not later
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened_at', ?)").run(
      new Date().toISOString(),
    );
  })();
}

/**
 * Version 1 → 2: each distinct message of the old outgoing rows becomes one `messages` row (copies
 * routed to several sessions are recognised by equal content, so the file shrinks), and each old
 * row becomes an outgoing row referring to it. Runs inside migrate()'s transaction: a crash
 * half-way leaves the version 1 file untouched.
 */
function migrateFromV1(db: Database.Database): void {
  db.exec(`
    CREATE TEMP TABLE v1_message AS
      SELECT rowid AS old, min(rowid) OVER (
        PARTITION BY topic, payload, message_qos, message_retain, properties, expires_at, origin
      ) AS id FROM outgoing_v1;
    INSERT INTO messages (id, topic, payload, qos, retain, properties, expires_at, origin)
      SELECT o.rowid, o.topic, o.payload, o.message_qos, o.message_retain, o.properties, o.expires_at, o.origin
      FROM outgoing_v1 o JOIN v1_message v ON v.old = o.rowid WHERE v.id = v.old;
    INSERT INTO outgoing (client_id, seq, state, packet_id, qos, retain, subscription_ids, message_id)
      SELECT o.client_id, o.seq,
        CASE o.state WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END,
        o.packet_id, o.qos, o.retain,
        CASE WHEN o.subscription_ids = '[]' THEN NULL ELSE o.subscription_ids END,
        v.id
      FROM outgoing_v1 o JOIN v1_message v ON v.old = o.rowid;
    DROP TABLE v1_message;
    DROP TABLE outgoing_v1;
  `);
}

interface SessionRow {
  client_id: string;
  expiry_interval: number;
  disconnected_at: number;
  protocol_version: number;
  username: string | null;
  has_client: number;
}

interface SubscriptionRow {
  client_id: string;
  filter: string;
  qos: number;
  no_local: number;
  retain_as_published: number;
  retain_handling: number;
  subscription_id: number | null;
}

function prepareStatements(db: Database.Database) {
  return {
    loadSessions: db.prepare('SELECT * FROM sessions'),
    loadSubscriptions: db.prepare('SELECT * FROM subscriptions ORDER BY client_id, filter'),
    saveSession: db.prepare(
      `INSERT INTO sessions (client_id, expiry_interval, disconnected_at, protocol_version, username, has_client)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET expiry_interval = excluded.expiry_interval,
         disconnected_at = excluded.disconnected_at, protocol_version = excluded.protocol_version,
         username = excluded.username, has_client = excluded.has_client`,
    ),
    deleteSession: db.prepare('DELETE FROM sessions WHERE client_id = ?'),
    deleteSessionSubscriptions: db.prepare('DELETE FROM subscriptions WHERE client_id = ?'),
    deleteSessionOutgoing: db
      .prepare('DELETE FROM outgoing WHERE client_id = ? RETURNING message_id')
      .pluck(),
    deleteSessionIncoming: db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ?'),
    saveSubscription: db.prepare(
      `INSERT OR REPLACE INTO subscriptions
         (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
    insertMessage: db.prepare(
      `INSERT INTO messages (id, topic, payload, qos, retain, properties, expires_at, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteMessage: db.prepare('DELETE FROM messages WHERE id = ?'),
    deleteMessages: db.prepare('DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))'),
    loadMessage: db.prepare('SELECT * FROM messages WHERE id = ?'),
    countReferences: db.prepare(
      'SELECT message_id, count(*) AS n FROM outgoing GROUP BY message_id HAVING count(*) > 1',
    ),
    maxMessageId: db.prepare('SELECT max(id) AS id FROM messages'),
    // OR IGNORE: an existing row is updated instead (updateOutgoing), and is not counted again
    insertOutgoing: db.prepare(
      `INSERT OR IGNORE INTO outgoing (client_id, seq, state, packet_id, qos, retain, subscription_ids, message_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateOutgoing: db.prepare(
      `UPDATE outgoing SET state = ?, packet_id = ?, qos = ?, retain = ?, subscription_ids = ?
       WHERE client_id = ? AND seq = ?`,
    ),
    deleteOutgoing: db
      .prepare('DELETE FROM outgoing WHERE client_id = ? AND seq = ? RETURNING message_id')
      .pluck(),
    loadOutgoing: db.prepare(
      `SELECT seq, state, packet_id, qos, retain, subscription_ids, message_id
       FROM outgoing WHERE client_id = ? ORDER BY seq`,
    ),
    saveIncoming: db.prepare('INSERT OR IGNORE INTO incoming_qos2 (client_id, packet_id) VALUES (?, ?)'),
    deleteIncoming: db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
    loadIncoming: db.prepare('SELECT packet_id FROM incoming_qos2 WHERE client_id = ? ORDER BY packet_id'),
    setRetained: db.prepare(
      `INSERT OR REPLACE INTO retained (topic, payload, qos, retain, properties, expires_at, origin)
       VALUES (@topic, @payload, @qos, @retain, @properties, @expires_at, @origin)`,
    ),
    deleteRetained: db.prepare('DELETE FROM retained WHERE topic = ?'),
    loadRetained: db.prepare('SELECT * FROM retained ORDER BY topic'),
  };
}

// ---- message (de)serialisation ----

function messageParams(m: Message): MessageRow {
  return {
    topic: m.topic,
    payload: m.payload,
    qos: m.qos,
    retain: m.retain ? 1 : 0,
    properties: encodeProperties(m.properties),
    expires_at: m.expiresAt,
    origin: m.origin,
  };
}

/** A message's row of `messages`, in column order. */
function messageValues(
  id: number,
  m: Message,
): [number, string, Buffer, number, number, string | null, number, string] {
  return [
    id,
    m.topic,
    m.payload,
    m.qos,
    m.retain ? 1 : 0,
    encodeProperties(m.properties),
    m.expiresAt,
    m.origin,
  ];
}

function rowToMessage(r: MessageRow): Message {
  return {
    topic: r.topic,
    payload: r.payload,
    qos: r.qos as QoS,
    retain: r.retain === 1,
    properties: decodeProperties(r.properties),
    expiresAt: r.expires_at,
    origin: r.origin,
  };
}

/**
 * Properties as JSON. Binary properties (Correlation Data) are stored base64 and listed by name in
 * `bin`, so no property value (a user property named like a marker, say) can be misread as binary.
 */
export function encodeProperties(p: PublishProperties | undefined): string | null {
  if (p === undefined) return null;
  const v: Record<string, unknown> = {};
  const bin: string[] = [];
  for (const [key, value] of Object.entries(p)) {
    if (value instanceof Uint8Array) {
      v[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      bin.push(key);
    } else {
      v[key] = value;
    }
  }
  return JSON.stringify(bin.length > 0 ? { v, bin } : { v });
}

export function decodeProperties(json: string | null): PublishProperties | undefined {
  if (json === null) return undefined;
  const { v, bin } = JSON.parse(json) as { v: Record<string, unknown>; bin?: string[] };
  if (bin !== undefined) for (const key of bin) v[key] = Buffer.from(v[key] as string, 'base64');
  return v as PublishProperties;
}
