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
 * A message is stored once, however many sessions it is queued for. Each session has one row in
 * `outgoing` with its own state (packet id, QoS, subscription ids). A message for one session (the
 * common case) lives in that row, so it costs one insert and one delete, as before; when routing
 * saves the same message for a second session (routing saves a message for its sessions one after
 * the other, so it is the message stored last), the message moves to one row in `messages` and every
 * session's row refers to it by id. The store counts those references in memory and deletes the
 * message with its last one; the counts are rebuilt from the file at open and after a rolled-back
 * transaction, so they never trust memory the file does not share.
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
 * message; 2: a message held by several sessions is stored once, in `messages`, and referenced.
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
-- a message held by several sessions, once; deleted with its last outgoing row
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
-- one session's delivery of a message: state 0 queued, 1 sent, 2 PUBREL sent; subscription ids as
-- a JSON array, NULL when none. The message is either in the row's own columns (message_id NULL:
-- only this session holds it) or in messages (message_id; the own columns NULL).
CREATE TABLE IF NOT EXISTS outgoing (
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  state INTEGER NOT NULL,
  packet_id INTEGER NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  subscription_ids TEXT,
  message_id INTEGER,
  topic TEXT,
  payload BLOB,
  message_qos INTEGER,
  message_retain INTEGER,
  properties TEXT,
  expires_at INTEGER,
  origin TEXT,
  PRIMARY KEY (client_id, seq)
);
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
  message_id: number | null;
  // the message's own columns, when message_id is NULL
  topic: string;
  payload: Buffer;
  message_qos: number;
  message_retain: number;
  properties: string | null;
  expires_at: number;
  origin: string;
}

/**
 * The message stored last (undefined: none that can be shared), the outgoing row that holds it while
 * it is the only one (id 0), then its `messages` id. One object, changed in place: no allocation per message.
 */
interface LastStored {
  message: Message | undefined;
  clientId: string;
  seq: number;
  id: number;
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
   * The message stored last: routing saves a message for all its persistent sessions one after the
   * other (one object), so a second session for it moves it to `messages` and the later ones refer to it.
   */
  private readonly last: LastStored = { message: undefined, clientId: '', seq: 0, id: 0 };
  /** Outgoing rows referring to each row of `messages` (this turn's writes included). */
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
      this.last.message = undefined;
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

  /** One outgoing row less for message `id` (null: the row held its message itself): the message goes with its last reference. */
  private release(id: number | null): void {
    if (id === null) return;
    const n = this.refs.get(id) ?? 1;
    if (n > 1) {
      this.refs.set(id, n - 1);
      return;
    }
    this.refs.delete(id);
    if (this.last.id === id) this.last.message = undefined;
    this.freed.push(id);
  }

  /** An outgoing row is gone: if it held the message stored last, that message cannot be shared any more. */
  private forget(clientId: string, seq?: number): void {
    const last = this.last;
    if (
      last.message !== undefined &&
      last.id === 0 &&
      last.clientId === clientId &&
      (seq === undefined || seq === last.seq)
    )
      last.message = undefined;
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
      this.forget(clientId);
      for (const id of this.stmt.deleteSessionOutgoing.all(clientId) as (number | null)[]) this.release(id);
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
      const state = STATE_CODE[rec.state];
      const retain = rec.retain ? 1 : 0;
      const ids = rec.subscriptionIds.length === 0 ? null : JSON.stringify(rec.subscriptionIds);
      const update = this.stmt.updateOutgoing;
      // PUBREL sent: always a record saved before; only the session's own columns change
      if (
        state === STATE_CODE.pubrel &&
        update.run(state, rec.packetId, rec.qos, retain, ids, clientId, rec.seq).changes === 1
      )
        return;
      const m = rec.message;
      const id = m === this.last.message ? this.share(clientId, rec.seq) : 0;
      if (id !== 0) {
        const added = this.stmt.insertReference.run(
          clientId,
          rec.seq,
          state,
          rec.packetId,
          rec.qos,
          retain,
          ids,
          id,
        );
        if (added.changes === 1) this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
        else update.run(state, rec.packetId, rec.qos, retain, ids, clientId, rec.seq);
        return;
      }
      const added = this.stmt.insertOwn.run(
        clientId,
        rec.seq,
        state,
        rec.packetId,
        rec.qos,
        retain,
        ids,
        m.topic,
        m.payload,
        m.qos,
        m.retain ? 1 : 0,
        encodeProperties(m.properties),
        m.expiresAt,
        m.origin,
      );
      // saved before (a state change): the message is never rewritten
      if (added.changes === 0) update.run(state, rec.packetId, rec.qos, retain, ids, clientId, rec.seq);
      else {
        const last = this.last;
        last.message = m;
        last.clientId = clientId;
        last.seq = rec.seq;
        last.id = 0;
      }
    });
  }

  /**
   * The message stored last is saved for one more session: its `messages` id, moving it there from
   * the row that held it alone the first time. 0 when it cannot be shared (the same row again, or
   * that row is gone).
   */
  private share(clientId: string, seq: number): number {
    const last = this.last;
    if (last.id !== 0) return last.id;
    if (last.clientId === clientId && last.seq === seq) return 0;
    const id = this.nextMessageId;
    if (this.stmt.moveToMessages.run(id, last.clientId, last.seq).changes !== 1) return 0;
    this.nextMessageId++;
    this.stmt.insertMessage.run(messageValues(id, last.message!));
    this.refs.set(id, 1);
    last.id = id;
    return id;
  }

  deleteOutgoing(clientId: string, seq: number): Promise<void> {
    return this.write(() => {
      // most rows hold their message themselves: one plain delete, as for a row that never shared
      if (this.stmt.deleteOwnOutgoing.run(clientId, seq).changes === 1) {
        this.forget(clientId, seq);
        return;
      }
      const id = this.stmt.deleteOutgoing.get(clientId, seq) as number | null | undefined;
      if (id !== undefined) this.release(id);
    });
  }

  loadOutgoing(clientId: string): OutgoingRecord[] {
    return (this.stmt.loadOutgoing.all(clientId) as OutgoingRow[]).flatMap((r) => {
      const message =
        r.message_id === null
          ? rowToMessage({ ...r, qos: r.message_qos, retain: r.message_retain })
          : this.loadMessage(r.message_id);
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
    db.exec(
      'DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM outgoing WHERE message_id IS NOT NULL)',
    );
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    // a write takes the exclusive lock now: a second broker on this file fails at start, not later
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened_at', ?)").run(
      new Date().toISOString(),
    );
  })();
}

/**
 * Version 1 → 2: copies of one message in several outgoing rows (recognised by equal content) become
 * one `messages` row that those rows refer to, so the file shrinks; a message only one row held stays
 * in that row. Runs inside migrate()'s transaction: a crash
 * half-way leaves the version 1 file untouched.
 */
function migrateFromV1(db: Database.Database): void {
  const sessionColumns = `o.client_id, o.seq,
    CASE o.state WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 ELSE 2 END,
    o.packet_id, o.qos, o.retain,
    CASE WHEN o.subscription_ids = '[]' THEN NULL ELSE o.subscription_ids END`;
  db.exec(`
    CREATE TEMP TABLE v1_message AS
      SELECT rowid AS old, min(rowid) OVER same AS id, count(*) OVER same AS n FROM outgoing_v1
      WINDOW same AS (PARTITION BY topic, payload, message_qos, message_retain, properties, expires_at, origin);
    INSERT INTO messages (id, topic, payload, qos, retain, properties, expires_at, origin)
      SELECT o.rowid, o.topic, o.payload, o.message_qos, o.message_retain, o.properties, o.expires_at, o.origin
      FROM outgoing_v1 o JOIN v1_message v ON v.old = o.rowid WHERE v.n > 1 AND v.id = v.old;
    INSERT INTO outgoing (client_id, seq, state, packet_id, qos, retain, subscription_ids, message_id)
      SELECT ${sessionColumns}, v.id FROM outgoing_v1 o JOIN v1_message v ON v.old = o.rowid WHERE v.n > 1;
    INSERT INTO outgoing (client_id, seq, state, packet_id, qos, retain, subscription_ids,
        topic, payload, message_qos, message_retain, properties, expires_at, origin)
      SELECT ${sessionColumns}, o.topic, o.payload, o.message_qos, o.message_retain, o.properties, o.expires_at, o.origin
      FROM outgoing_v1 o JOIN v1_message v ON v.old = o.rowid WHERE v.n = 1;
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
      'SELECT message_id, count(*) AS n FROM outgoing WHERE message_id IS NOT NULL GROUP BY message_id',
    ),
    maxMessageId: db.prepare('SELECT max(id) AS id FROM messages'),
    // OR IGNORE: an existing row is updated instead (updateOutgoing), and is not counted again
    insertOwn: db.prepare(
      `INSERT OR IGNORE INTO outgoing (client_id, seq, state, packet_id, qos, retain, subscription_ids,
         topic, payload, message_qos, message_retain, properties, expires_at, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertReference: db.prepare(
      `INSERT OR IGNORE INTO outgoing (client_id, seq, state, packet_id, qos, retain, subscription_ids, message_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // the row that held a message alone now refers to it in messages (inserted right after)
    moveToMessages: db.prepare(
      `UPDATE outgoing SET message_id = ?, topic = NULL, payload = NULL, message_qos = NULL,
         message_retain = NULL, properties = NULL, expires_at = NULL, origin = NULL
       WHERE client_id = ? AND seq = ? AND message_id IS NULL`,
    ),
    updateOutgoing: db.prepare(
      `UPDATE outgoing SET state = ?, packet_id = ?, qos = ?, retain = ?, subscription_ids = ?
       WHERE client_id = ? AND seq = ?`,
    ),
    deleteOwnOutgoing: db.prepare(
      'DELETE FROM outgoing WHERE client_id = ? AND seq = ? AND message_id IS NULL',
    ),
    deleteOutgoing: db
      .prepare('DELETE FROM outgoing WHERE client_id = ? AND seq = ? RETURNING message_id')
      .pluck(),
    loadOutgoing: db.prepare('SELECT * FROM outgoing WHERE client_id = ? ORDER BY seq'),
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
