import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** A catalog whose whole subtree (nested catalogs, file objects, chunks) the replica holds. */
export interface CompletedCatalog {
  /** Store key, `data/ab/cd…C`. */
  key: string;
  mountpoint: string;
  /** Store keys of its nested catalogs (completed before it). */
  children: string[];
  /** Store keys of the content objects its rows name. */
  objects: string[];
}

/** A root catalog the source offered in a snapshot, and why. */
export interface SeenRoot {
  hash: string;
  /** `head`, `tag:<name>`, `reflog` or `previous`. */
  reason: string;
  revision: number;
  /** Whether its subtree is complete on the replica (false: the source no longer had all of it). */
  held: boolean;
}

/** One snapshot run, for `barge info`-like reports and the dashboard. */
export interface SnapshotRecord {
  startedAt: number;
  seconds: number;
  revision: number;
  status: 'done' | 'failed';
  objectsFetched: number;
  bytesFetched: number;
  catalogsFetched: number;
  error?: string;
}

/**
 * The replica ledger, `<state>/replica.db` (never served): what this stratum 1 holds.
 *
 * - `catalogs`: every catalog whose subtree was completed, with its nested catalogs. A catalog
 *   object on disk proves nothing (a snapshot may have died after writing it); a row here does,
 *   because rows are added only after the objects below are flushed to disk. So a later or
 *   resumed snapshot skips a completed subtree without reading it.
 * - `objects`: every content object some completed catalog names, with `refs` = completed
 *   catalogs naming it, as the publisher's gc ledger counts them.
 * - `roots`: root catalogs the source offered (HEAD, tags, reflog, previous revisions), with the
 *   last snapshot that saw each. The replica's own gc follows the source from here: a root the
 *   source stopped offering can go, then catalogs no kept root reaches, then objects at 0 refs.
 * - `snapshots`: one row per run.
 * - `extras`: certificates, histories and meta-info objects held (no catalog names them).
 * - `condemned`: files the replica's gc decided to delete and has not deleted yet; their rows
 *   above are gone already, so a killed gc's successor finishes the list (replica-gc.ts).
 */
export class ReplicaLedger {
  private readonly db: Database.Database;

  private constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode loses at most the last transactions on power loss, never consistency;
    // a lost completion only makes the next snapshot re-check that subtree.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS catalogs (
        key TEXT PRIMARY KEY, mountpoint TEXT NOT NULL, children TEXT NOT NULL,
        objects INTEGER NOT NULL, completed_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, refs INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS roots (
        hash TEXT NOT NULL, reason TEXT NOT NULL, revision INTEGER NOT NULL, held INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (hash, reason)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS snapshots (
        id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, seconds REAL NOT NULL,
        revision INTEGER NOT NULL, status TEXT NOT NULL, objects_fetched INTEGER NOT NULL,
        bytes_fetched INTEGER NOT NULL, catalogs_fetched INTEGER NOT NULL, error TEXT);
      CREATE TABLE IF NOT EXISTS extras (key TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS condemned (key TEXT PRIMARY KEY, rank INTEGER NOT NULL) WITHOUT ROWID;
    `);
  }

  /** Opens (creating) the ledger of a replica's state directory. */
  static open(stateDir: string): ReplicaLedger {
    mkdirSync(stateDir, { recursive: true });
    return new ReplicaLedger(path.join(stateDir, 'replica.db'));
  }

  /** Whether the subtree of this catalog is complete on the replica. */
  isComplete(key: string): boolean {
    return this.db.prepare('SELECT 1 FROM catalogs WHERE key = ?').get(key) !== undefined;
  }

  /** Whether no catalog was completed yet (a first snapshot, or one resuming it). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM catalogs LIMIT 1').get() === undefined;
  }

  /** Records completed catalogs (children first), in one transaction; objects gain a reference. */
  complete(catalogs: readonly CompletedCatalog[]): void {
    const add = this.db.prepare(
      'INSERT INTO catalogs (key, mountpoint, children, objects, completed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING',
    );
    const ref = this.db.prepare(
      'INSERT INTO objects (key, refs) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET refs = refs + 1',
    );
    const now = Math.floor(Date.now() / 1000);
    this.db.transaction(() => {
      for (const c of catalogs) {
        const distinct = new Set(c.objects);
        if (add.run(c.key, c.mountpoint, c.children.join(' '), distinct.size, now).changes === 0) continue;
        for (const o of distinct) ref.run(o);
      }
    })();
  }

  /** Records the roots a snapshot saw at the source. */
  sawRoots(roots: readonly SeenRoot[]): void {
    const upsert = this.db.prepare(
      `INSERT INTO roots (hash, reason, revision, held, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (hash, reason) DO UPDATE SET held = excluded.held, last_seen = excluded.last_seen`,
    );
    const now = Math.floor(Date.now() / 1000);
    this.db.transaction(() => {
      for (const r of roots) upsert.run(r.hash, r.reason, r.revision, r.held ? 1 : 0, now, now);
    })();
  }

  /** Records certificates, histories and meta-info objects now held (after they are durable). */
  holdExtras(keys: readonly string[]): void {
    const add = this.db.prepare('INSERT INTO extras (key) VALUES (?) ON CONFLICT (key) DO NOTHING');
    this.db.transaction(() => {
      for (const k of keys) add.run(k);
    })();
  }

  /** Appends a snapshot run. */
  recordSnapshot(s: SnapshotRecord): void {
    this.db
      .prepare(
        `INSERT INTO snapshots (started_at, seconds, revision, status, objects_fetched, bytes_fetched,
         catalogs_fetched, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.startedAt,
        s.seconds,
        s.revision,
        s.status,
        s.objectsFetched,
        s.bytesFetched,
        s.catalogsFetched,
        s.error ?? null,
      );
  }

  /** Counts for reports: completed catalogs, referenced objects, roots seen by the last snapshot. */
  counts(): { catalogs: number; objects: number; roots: number } {
    const n = (sql: string) => Number((this.db.prepare(sql).get() as { n: number }).n);
    return {
      catalogs: n('SELECT COUNT(*) AS n FROM catalogs'),
      objects: n('SELECT COUNT(*) AS n FROM objects'),
      roots: n(
        'SELECT COUNT(DISTINCT hash) AS n FROM roots WHERE last_seen = (SELECT MAX(last_seen) FROM roots)',
      ),
    };
  }

  /** The recorded snapshots, newest first. */
  snapshots(limit = 20): SnapshotRecord[] {
    const rows = this.db
      .prepare(
        `SELECT started_at, seconds, revision, status, objects_fetched, bytes_fetched, catalogs_fetched, error
         FROM snapshots ORDER BY id DESC LIMIT ?`,
      )
      .all(limit) as Record<string, unknown>[];
    return rows.map((r) => ({
      startedAt: Number(r.started_at),
      seconds: Number(r.seconds),
      revision: Number(r.revision),
      status: r.status as 'done' | 'failed',
      objectsFetched: Number(r.objects_fetched),
      bytesFetched: Number(r.bytes_fetched),
      catalogsFetched: Number(r.catalogs_fetched),
      ...(r.error ? { error: String(r.error) } : {}),
    }));
  }

  /** The raw database, for the replica's gc (replica-gc-ledger.ts); nothing else writes it. */
  get database(): Database.Database {
    return this.db;
  }

  close(): void {
    this.db.close();
  }
}
