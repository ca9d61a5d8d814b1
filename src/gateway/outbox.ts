// The gateway's disk queue (SQLite via better-sqlite3): the ordered uplink stream is written here first
// and deleted when the broker acknowledges it, so nothing is lost across outages or restarts. It also
// keeps the persisted sequence counter and its epoch (docs/protocol.md "Sequence numbers").
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export const QueueFullPolicy = { DropOldest: 'drop-oldest', DropNewest: 'drop-newest' } as const;
export type QueueFullPolicy = (typeof QueueFullPolicy)[keyof typeof QueueFullPolicy];

export interface OutboxOptions {
  path: string;
  maxMessages: number;
  whenFull: QueueFullPolicy;
}

export interface OutboxRow {
  seq: number;
  kind: string;
  payload: Buffer;
}

export type AppendResult = { seq: number; payload: Buffer; dropped?: number } | { refused: true };

export class OutboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboxError';
  }
}

export class Outbox {
  private readonly db: Database.Database;
  private nextSeqValue: number;
  private droppedValue: number;
  private countValue: number;
  readonly epoch: string;
  private readonly stmts;

  constructor(private readonly options: OutboxOptions) {
    try {
      if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
      this.db = new Database(options.path);
    } catch (err) {
      throw new OutboxError(`cannot open disk queue ${options.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload BLOB NOT NULL);
    `);
    const get = this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    const put = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    let epoch = get.get('epoch')?.value;
    if (!epoch) {
      epoch = randomBytes(8).toString('hex');
      put.run('epoch', epoch);
    }
    this.epoch = epoch;
    const maxQueued =
      this.db.prepare<[], { m: number | null }>('SELECT MAX(seq) AS m FROM outbox').get()!.m ?? 0;
    this.nextSeqValue = Math.max(Number(get.get('nextSeq')?.value ?? 1), maxQueued + 1);
    this.droppedValue = Number(get.get('dropped')?.value ?? 0);
    this.countValue = this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox').get()!.n;
    this.stmts = {
      put,
      insert: this.db.prepare('INSERT INTO outbox (seq, kind, payload) VALUES (?, ?, ?)'),
      remove: this.db.prepare('DELETE FROM outbox WHERE seq = ?'),
      oldest: this.db.prepare<[], { seq: number }>('SELECT seq FROM outbox ORDER BY seq LIMIT 1'),
      one: this.db.prepare<[number], OutboxRow>('SELECT seq, kind, payload FROM outbox WHERE seq = ?'),
      has: this.db.prepare<[number], { one: number }>('SELECT 1 AS one FROM outbox WHERE seq = ?'),
      after: this.db.prepare<[number, number], OutboxRow>(
        'SELECT seq, kind, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
    };
  }

  get isOpen(): boolean {
    return this.db.open;
  }
  get depth(): number {
    return this.countValue;
  }
  get dropped(): number {
    return this.droppedValue;
  }
  get nextSeq(): number {
    return this.nextSeqValue;
  }

  /** Takes the next seq for a message that does not go through the queue (birth, will). */
  reserveSeq(): number {
    const seq = this.nextSeqValue++;
    this.stmts.put.run('nextSeq', String(this.nextSeqValue));
    return seq;
  }

  /**
   * Appends one message built for its seq; applies the full policy. Returns the seq and payload, how
   * many old messages were dropped, or `refused` (drop-newest on a full queue).
   */
  append(kind: string, build: (seq: number) => Buffer): AppendResult {
    return this.db.transaction((): AppendResult => {
      let dropped: number | undefined;
      if (this.countValue >= this.options.maxMessages) {
        if (this.options.whenFull === QueueFullPolicy.DropNewest) {
          this.addDropped(1);
          return { refused: true };
        }
        const oldest = this.stmts.oldest.get();
        if (oldest) {
          this.stmts.remove.run(oldest.seq);
          this.countValue--;
          this.addDropped(1);
          dropped = oldest.seq;
        }
      }
      const seq = this.nextSeqValue;
      const payload = build(seq);
      this.stmts.insert.run(seq, kind, payload);
      this.countValue++;
      this.nextSeqValue = seq + 1;
      this.stmts.put.run('nextSeq', String(this.nextSeqValue));
      return dropped === undefined ? { seq, payload } : { seq, payload, dropped };
    })();
  }

  /** Up to `limit` queued messages with seq greater than `after`, oldest first. */
  peekAfter(after: number, limit: number): OutboxRow[] {
    return this.stmts.after.all(after, limit);
  }

  /** The queued message with this seq (undefined once acknowledged or dropped). */
  get(seq: number): OutboxRow | undefined {
    return this.stmts.one.get(seq);
  }

  /** Whether the message with this seq is still queued. */
  has(seq: number): boolean {
    return this.stmts.has.get(seq) !== undefined;
  }

  /** Delivered (the broker has it, or for a data group the platform stored it): it leaves the queue. */
  remove(seq: number): boolean {
    if (this.stmts.remove.run(seq).changes === 0) return false;
    this.countValue--;
    return true;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private addDropped(n: number): void {
    this.droppedValue += n;
    this.stmts.put.run('dropped', String(this.droppedValue));
  }
}
