// The edge's store-and-forward queue: what must reach the cloud is written to SQLite first and leaves
// only when the cloud broker acknowledged it, so an outage (or a restart) loses nothing and the order
// is kept.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export const DEFAULT_FORWARD_QUEUE_MAX = 1_000_000;

export interface QueuedMessage {
  id: number;
  topic: string;
  payload: Buffer;
}

export class ForwardQueue {
  readonly #db: Database.Database;
  readonly #max: number;
  #dropped = 0;

  constructor(path: string, max = DEFAULT_FORWARD_QUEUE_MAX) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS forward (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL)',
    );
    this.#max = max;
  }

  /** Appends; when full the oldest message is dropped (and counted): the newest data matters most. */
  push(topic: string, payload: Buffer): void {
    this.#db.prepare('INSERT INTO forward (topic, payload) VALUES (?, ?)').run(topic, payload);
    if (this.depth > this.#max) {
      this.#db.prepare('DELETE FROM forward WHERE id = (SELECT MIN(id) FROM forward)').run();
      this.#dropped++;
    }
  }

  /** The oldest messages, in order, without removing them. */
  peek(limit: number): QueuedMessage[] {
    return this.#db
      .prepare('SELECT id, topic, payload FROM forward ORDER BY id LIMIT ?')
      .all(limit) as QueuedMessage[];
  }

  /** Removes a message the cloud acknowledged. */
  remove(id: number): void {
    this.#db.prepare('DELETE FROM forward WHERE id = ?').run(id);
  }

  get depth(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM forward').get() as { n: number }).n;
  }

  get dropped(): number {
    return this.#dropped;
  }

  close(): void {
    this.#db.close();
  }
}
