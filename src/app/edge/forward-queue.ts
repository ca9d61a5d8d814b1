// The edge's store-and-forward queue: what must reach the cloud is written to SQLite first and leaves
// only when the cloud has it — for a data group that asked for an acknowledgement, when the cloud
// platform's `data-ack` names it (stored); for anything else, on the cloud broker's PUBACK. So an outage,
// a restart or a cloud instance that dies loses nothing, and the order is kept.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export const DEFAULT_FORWARD_QUEUE_MAX = 1_000_000;

/** A data group the cloud platform acknowledges once stored: its gateway and seq, as `data-ack` names it. */
export interface AckKey {
  gw: string;
  seq: number;
}

export interface QueuedMessage {
  id: number;
  topic: string;
  payload: Buffer;
  /** Set when the message waits for a `data-ack` (a data group that asked for one). */
  ackGw: string | null;
  ackSeq: number | null;
}

const COLUMNS = 'id, topic, payload, ack_gw AS ackGw, ack_seq AS ackSeq';

export class ForwardQueue {
  readonly #db: Database.Database;
  readonly #max: number;
  #dropped = 0;
  /**
   * Rows queued, kept in step with every insert and delete: a COUNT(*) per uplink would scan the whole
   * queue, which is largest exactly when it matters (a long outage).
   */
  #depth: number;
  readonly #stmt: ReturnType<typeof prepare>;
  /** Rows with a smaller id were queued by an earlier run: they may have reached the cloud already. */
  readonly firstIdOfRun: number;

  constructor(path: string, max = DEFAULT_FORWARD_QUEUE_MAX) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS forward (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL)',
    );
    // a queue written before data acks: its rows have no key and leave on the PUBACK, as they did
    const columns = this.#db.prepare('PRAGMA table_info(forward)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'ack_gw')) {
      this.#db.exec('ALTER TABLE forward ADD COLUMN ack_gw TEXT');
      this.#db.exec('ALTER TABLE forward ADD COLUMN ack_seq INTEGER');
    }
    this.#db.exec('CREATE INDEX IF NOT EXISTS forward_ack ON forward (ack_gw, ack_seq)');
    this.#max = max;
    this.#stmt = prepare(this.#db);
    // every row already queued has a smaller id; every new one (AUTOINCREMENT) a larger one
    const last = this.#db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM forward').get() as { id: number };
    this.firstIdOfRun = last.id + 1;
    this.#depth = (this.#db.prepare('SELECT COUNT(*) AS n FROM forward').get() as { n: number }).n;
  }

  /**
   * Appends; when full the oldest message is dropped (and counted): the newest data matters most.
   * Returns the new row's id and the id of the row dropped for it, if any.
   */
  push(topic: string, payload: Buffer, ack?: AckKey): { id: number; dropped?: number } {
    const id = Number(
      this.#stmt.insert.run(topic, payload, ack?.gw ?? null, ack?.seq ?? null).lastInsertRowid,
    );
    this.#depth++;
    if (this.#depth <= this.#max) return { id };
    const oldest = this.#stmt.oldest.get()!;
    this.remove(oldest.id);
    this.#dropped++;
    return { id, dropped: oldest.id };
  }

  /** The oldest messages after `afterId`, in order, without removing them. */
  peekAfter(afterId: number, limit: number): QueuedMessage[] {
    return this.#stmt.after.all(afterId, limit);
  }

  /** The oldest messages, in order, without removing them. */
  peek(limit: number): QueuedMessage[] {
    return this.peekAfter(0, limit);
  }

  get(id: number): QueuedMessage | undefined {
    return this.#stmt.get.get(id);
  }

  has(id: number): boolean {
    return this.#stmt.has.get(id) !== undefined;
  }

  /** Removes a message the cloud has. */
  remove(id: number): void {
    this.#depth -= this.#stmt.remove.run(id).changes;
  }

  /**
   * A `data-ack` from the cloud: every queued data group of `gw` with one of these seqs is stored there
   * (a gateway's resend may be queued twice). Returns the ids removed.
   */
  removeAcked(gw: string, seqs: readonly number[]): number[] {
    const ids: number[] = [];
    this.#db.transaction(() => {
      for (const seq of seqs) for (const { id } of this.#stmt.acked.all(gw, seq)) ids.push(id);
      for (const id of ids) this.remove(id);
    })();
    return ids;
  }

  /** Messages queued, including data groups sent and waiting for their `data-ack`. */
  get depth(): number {
    return this.#depth;
  }

  get dropped(): number {
    return this.#dropped;
  }

  close(): void {
    this.#db.close();
  }
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare<[string, Buffer, string | null, number | null]>(
      'INSERT INTO forward (topic, payload, ack_gw, ack_seq) VALUES (?, ?, ?, ?)',
    ),
    oldest: db.prepare<[], { id: number }>('SELECT MIN(id) AS id FROM forward'),
    after: db.prepare<[number, number], QueuedMessage>(
      `SELECT ${COLUMNS} FROM forward WHERE id > ? ORDER BY id LIMIT ?`,
    ),
    get: db.prepare<[number], QueuedMessage>(`SELECT ${COLUMNS} FROM forward WHERE id = ?`),
    has: db.prepare<[number], 1>('SELECT 1 FROM forward WHERE id = ?'),
    remove: db.prepare<[number]>('DELETE FROM forward WHERE id = ?'),
    acked: db.prepare<[string, number], { id: number }>(
      'SELECT id FROM forward WHERE ack_gw = ? AND ack_seq = ?',
    ),
  };
}
