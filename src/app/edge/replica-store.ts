// The edge replica on disk: the sections the cloud sent (devices, contracts, rules, state), each with
// its version, in a SQLite file of the edge's data directory. An edge restarted while the cloud is away
// starts from it. `revision` counts the changes applied, for logs and tests.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { REPLICA_KINDS, type ReplicaKind, type ReplicaSection } from '../../platform/replica/sections.ts';

export const REPLICA_FILE = 'replica.db';

export class ReplicaStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS replica_sections (
      kind TEXT PRIMARY KEY, version TEXT NOT NULL, items TEXT NOT NULL, synced_at INTEGER NOT NULL)`);
    this.#db.exec('CREATE TABLE IF NOT EXISTS replica_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  }

  get(kind: ReplicaKind): ReplicaSection | undefined {
    const row = this.#db.prepare('SELECT version, items FROM replica_sections WHERE kind = ?').get(kind) as
      { version: string; items: string } | undefined;
    return row ? { version: row.version, items: JSON.parse(row.items) as unknown[] } : undefined;
  }

  /** The versions held, per kind (what the edge tells the cloud it has). */
  versions(): Partial<Record<ReplicaKind, string>> {
    const out: Partial<Record<ReplicaKind, string>> = {};
    for (const kind of REPLICA_KINDS) {
      const v = this.get(kind)?.version;
      if (v) out[kind] = v;
    }
    return out;
  }

  /** Stores a section and counts one revision, in one transaction. */
  put(kind: ReplicaKind, section: ReplicaSection, now: number): void {
    this.#db.transaction(() => {
      this.#db
        .prepare(
          `INSERT INTO replica_sections (kind, version, items, synced_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (kind) DO UPDATE SET version = excluded.version, items = excluded.items,
           synced_at = excluded.synced_at`,
        )
        .run(kind, section.version, JSON.stringify(section.items), now);
      this.#db
        .prepare(
          `INSERT INTO replica_meta (k, v) VALUES ('revision', 1) ON CONFLICT (k) DO UPDATE SET v = v + 1`,
        )
        .run();
    })();
  }

  get revision(): number {
    const row = this.#db.prepare("SELECT v FROM replica_meta WHERE k = 'revision'").get() as
      { v: number } | undefined;
    return row?.v ?? 0;
  }

  close(): void {
    this.#db.close();
  }
}
