import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { objectPath } from '../object/index.js';

/** Sessions begun by this process: part of each id, so that two opened in one millisecond differ. */
let sessionCount = 0;

/** A revision as the ledger knows it. */
export interface LedgerRevision {
  revision: number;
  /** Root catalog hash. */
  root: string;
  /** Unix seconds of its manifest. */
  timestamp: number;
  /** History (H) and certificate (X) object keys the revision's manifest names; '' for none. */
  history: string;
  certificate: string;
  /** pending: written before the manifest swap; committed: served once; dropped: out of retention. */
  state: 'pending' | 'committed' | 'dropped';
}

/** One catalog written by a commit, with what it references. */
export interface LedgerCatalog {
  /** Store key of the catalog object (`data/ab/cd…C`). */
  key: string;
  mountpoint: string;
  /** Store keys of the content objects its rows name (files and chunks). */
  objects: string[];
  /** Store keys of its nested catalogs. */
  children: string[];
}

/** What a gc run did, kept for the dashboard and metrics. */
export interface GcRun {
  startedAt: number;
  seconds: number;
  dryRun: boolean;
  revisionsDropped: number;
  catalogsDeleted: number;
  objectsDeleted: number;
  bytesFreed: number;
  uploadsExpired: number;
}

/**
 * The gc ledger of one repository (`<state>/ledger.db`, never served), written at publish time so
 * that gc never walks the repository to know what is live:
 *
 * - `revisions`: every revision published, its root catalog, history and certificate objects;
 * - `catalogs`: every catalog object live or not yet collected, with `refs` = kept revisions
 *   rooted at it + live catalogs that name it as nested;
 * - `objects`: every content object some live catalog names, with `refs` = live catalogs naming it;
 * - `staged`: objects writers have written or reused but not yet committed (with their session),
 *   so that gc spares them and collects those of writers that died;
 * - `condemned`: objects gc decided to delete, kept until the file is gone (a gc killed midway
 *   resumes from here; a commit that references one again takes it back).
 *
 * A revision dropped by retention releases its root; a catalog whose refs reach 0 releases its
 * nested catalogs and objects, read from the dead catalog itself. So gc's work is proportional to
 * the garbage, not to the repository.
 */
export class Ledger {
  readonly db: Database.Database;
  readonly session: string;

  private constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    // gc looks up the reference count of every child of a dead catalog (a group directory names
    // 1,000 uploads): random reads over a file that grows with the repository. 2 MB of page cache
    // made those reads follow the repository's size; the file mapped and a bigger cache do not.
    this.db.pragma('cache_size = -65536');
    this.db.pragma('mmap_size = 1073741824');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS revisions (
        revision INTEGER PRIMARY KEY, root TEXT NOT NULL, timestamp INTEGER NOT NULL,
        history TEXT NOT NULL, certificate TEXT NOT NULL, state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS catalogs (
        key TEXT PRIMARY KEY, mountpoint TEXT NOT NULL, refs INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS catalogs_dead ON catalogs (refs) WHERE refs <= 0;
      CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, refs INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS staged (
        key TEXT NOT NULL, session TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (key, session)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, started INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS condemned (key TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS gc_runs (
        started_at INTEGER NOT NULL, seconds REAL NOT NULL, dry_run INTEGER NOT NULL,
        revisions_dropped INTEGER NOT NULL, catalogs_deleted INTEGER NOT NULL,
        objects_deleted INTEGER NOT NULL, bytes_freed INTEGER NOT NULL, uploads_expired INTEGER NOT NULL);
    `);
    this.session = `${os.hostname()}:${process.pid}:${Date.now().toString(36)}.${sessionCount++}`;
  }

  /** Opens (creating) the ledger of a repository's state directory. */
  static open(stateDir: string): Ledger {
    mkdirSync(stateDir, { recursive: true });
    return new Ledger(path.join(stateDir, 'ledger.db'));
  }

  /** Whether the ledger covers the repository since its first revision (init, or a rebuild). */
  get complete(): boolean {
    return this.meta('complete') === 'yes';
  }

  meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  /** Registers this process as a writer session (its staged objects are spared while it lives). */
  beginSession(): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sessions (id, host, pid, started) VALUES (?, ?, ?, ?)')
      .run(this.session, os.hostname(), process.pid, Math.floor(Date.now() / 1000));
  }

  /** Ends this session: what it staged and no commit took becomes an orphan (see end()). */
  endSession(): void {
    this.db.transaction(() => this.end(this.session))();
  }

  /**
   * Ends the sessions of writers that died (`alive` says no): what they staged and no commit took
   * becomes an orphan for gc. Returns how many sessions ended.
   */
  endDeadSessions(alive: (s: { host: string; pid: number }) => boolean): number {
    const rows = this.db.prepare('SELECT id, host, pid FROM sessions').all() as {
      id: string;
      host: string;
      pid: number;
    }[];
    const dead = rows.filter((s) => s.id !== this.session && !alive(s));
    this.db.transaction(() => {
      for (const s of dead) this.end(s.id);
    })();
    return dead.length;
  }

  /**
   * Uncommitted objects of an ended session are orphans: gc collects them unless something
   * references them by then. They stay staged, by no live session ('ended').
   */
  private end(session: string): void {
    this.db
      .prepare(
        "INSERT OR IGNORE INTO staged (key, session, at) SELECT key, 'ended', at FROM staged WHERE session = ?",
      )
      .run(session);
    this.db.prepare('DELETE FROM staged WHERE session = ?').run(session);
    this.db.prepare('DELETE FROM sessions WHERE id = ?').run(session);
  }

  /**
   * Records objects this session is about to write (or reuses) and has not committed, in one
   * transaction: a writer killed after writing them leaves rows that name them.
   */
  stage(keys: Iterable<string>): void {
    const now = Math.floor(Date.now() / 1000);
    this.stageQuery ??= this.db.prepare('INSERT OR IGNORE INTO staged (key, session, at) VALUES (?, ?, ?)');
    const insert = this.stageQuery;
    this.db.transaction(() => {
      for (const key of keys) insert.run(key, this.session, now);
    })();
  }

  private stageQuery: Database.Statement<[string, string, number]> | undefined;

  /** Whether an object is referenced by a live catalog. */
  isLive(key: string): boolean {
    // Prepared once: a commit asks about every object of its new catalogs (11,700 for an image).
    this.liveQuery ??= this.db.prepare('SELECT 1 FROM objects WHERE key = ?');
    return this.liveQuery.get(key) !== undefined;
  }

  /** Whether a catalog object is known (live or not yet collected). */
  hasCatalog(key: string): boolean {
    this.catalogQuery ??= this.db.prepare('SELECT 1 FROM catalogs WHERE key = ?');
    return this.catalogQuery.get(key) !== undefined;
  }

  private liveQuery: Database.Statement<[string]> | undefined;
  private catalogQuery: Database.Statement<[string]> | undefined;

  /**
   * Records a revision before its manifest is swapped in (state pending): its new catalogs with
   * their objects and nested catalogs, its root. Objects a new catalog names gain a reference, and
   * leave `condemned` if a killed gc had marked them; the session's staged rows for them go.
   */
  recordRevision(rev: Omit<LedgerRevision, 'state'>, written: readonly LedgerCatalog[]): void {
    const addCatalog = this.db.prepare(
      'INSERT INTO catalogs (key, mountpoint, refs) VALUES (?, ?, 0) ON CONFLICT (key) DO NOTHING',
    );
    const refCatalog = this.db.prepare('UPDATE catalogs SET refs = refs + 1 WHERE key = ?');
    const insertMissingCatalog = this.db.prepare(
      'INSERT INTO catalogs (key, mountpoint, refs) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET refs = refs + 1',
    );
    const refObject = this.db.prepare(
      'INSERT INTO objects (key, refs) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET refs = refs + 1',
    );
    const unstage = this.db.prepare('DELETE FROM staged WHERE key = ?');
    const uncondemn = this.db.prepare('DELETE FROM condemned WHERE key = ?');
    this.db.transaction(() => {
      const fresh = new Set<string>();
      for (const c of written) {
        if (addCatalog.run(c.key, c.mountpoint).changes === 0) continue; // same bytes written before: counted
        fresh.add(c.key);
        uncondemn.run(c.key);
        unstage.run(c.key);
        for (const o of c.objects) {
          refObject.run(o);
          uncondemn.run(o);
          unstage.run(o);
        }
      }
      for (const c of written) {
        if (!fresh.has(c.key)) continue;
        for (const child of c.children) {
          // A child missing from the ledger (a repository from before the ledger) is counted
          // from here on; its own objects are unknown, so the ledger is not complete.
          if (refCatalog.run(child).changes === 0) {
            insertMissingCatalog.run(child, '?');
            this.setMeta('complete', 'no');
          }
        }
      }
      const rootKey = objectPath(rev.root, 'C');
      if (refCatalog.run(rootKey).changes === 0) insertMissingCatalog.run(rootKey, '');
      for (const k of [rev.history, rev.certificate]) if (k) unstage.run(k);
      this.db
        .prepare(
          "INSERT OR REPLACE INTO revisions (revision, root, timestamp, history, certificate, state) VALUES (?, ?, ?, ?, ?, 'pending')",
        )
        .run(rev.revision, rev.root, rev.timestamp, rev.history, rev.certificate);
    })();
  }

  /**
   * Drops revisions out of retention (or pending ones whose manifest never went out): each
   * releases its root catalog, which gc collects once nothing else holds it.
   */
  dropRevisions(revisions: readonly number[]): void {
    const get = this.db.prepare(
      "SELECT root, history FROM revisions WHERE revision = ? AND state != 'dropped'",
    );
    const mark = this.db.prepare("UPDATE revisions SET state = 'dropped' WHERE revision = ?");
    const release = this.db.prepare('UPDATE catalogs SET refs = refs - 1 WHERE key = ?');
    const orphan = this.db.prepare("INSERT OR IGNORE INTO staged (key, session, at) VALUES (?, 'ended', ?)");
    this.db.transaction(() => {
      for (const r of revisions) {
        const row = get.get(r) as { root: string; history: string } | undefined;
        if (!row) continue;
        mark.run(r);
        release.run(objectPath(row.root, 'C'));
        // Its history object was never served: an orphan for gc (unless another revision names it).
        if (row.history) orphan.run(row.history, Math.floor(Date.now() / 1000));
      }
    })();
  }

  /** Marks a revision served (after its manifest swap). */
  markCommitted(revision: number): void {
    this.db.prepare("UPDATE revisions SET state = 'committed' WHERE revision = ?").run(revision);
  }

  /** Updates the history object of a revision (a tag added or removed keeps the revision). */
  setHistory(revision: number, history: string, timestamp: number): void {
    const old = this.db.prepare('SELECT history FROM revisions WHERE revision = ?').get(revision) as
      | { history: string }
      | undefined;
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE revisions SET history = ?, timestamp = max(timestamp, ?) WHERE revision = ?')
        .run(history, timestamp, revision);
      // The history it replaces is named by no revision any more: an orphan for gc, which spares
      // it while the served manifest still names it (a tag killed before its manifest swap).
      if (old?.history && old.history !== history) this.orphan([old.history]);
      // The new one is named now: no staged row need stand for it.
      this.db.prepare('DELETE FROM staged WHERE key = ?').run(history);
    })();
  }

  /**
   * Records objects written that nothing will reference (a commit refused after writing its
   * catalogs and history): gc deletes each unless something names it by then.
   */
  orphan(keys: Iterable<string>): void {
    const insert = this.db.prepare("INSERT OR IGNORE INTO staged (key, session, at) VALUES (?, 'ended', ?)");
    const now = Math.floor(Date.now() / 1000);
    this.db.transaction(() => {
      for (const key of keys) insert.run(key, now);
    })();
  }

  revisions(states: LedgerRevision['state'][] = ['pending', 'committed']): LedgerRevision[] {
    return this.db
      .prepare(
        `SELECT * FROM revisions WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY revision`,
      )
      .all(...states) as LedgerRevision[];
  }

  /** The newest revision recorded, any state. */
  head(): LedgerRevision | undefined {
    return this.db.prepare('SELECT * FROM revisions ORDER BY revision DESC LIMIT 1').get() as
      | LedgerRevision
      | undefined;
  }

  /** gc runs, newest first. */
  gcRuns(limit = 100): GcRun[] {
    return (
      this.db.prepare('SELECT * FROM gc_runs ORDER BY started_at DESC LIMIT ?').all(limit) as {
        started_at: number;
        seconds: number;
        dry_run: number;
        revisions_dropped: number;
        catalogs_deleted: number;
        objects_deleted: number;
        bytes_freed: number;
        uploads_expired: number;
      }[]
    ).map((r) => ({
      startedAt: r.started_at,
      seconds: r.seconds,
      dryRun: r.dry_run !== 0,
      revisionsDropped: r.revisions_dropped,
      catalogsDeleted: r.catalogs_deleted,
      objectsDeleted: r.objects_deleted,
      bytesFreed: r.bytes_freed,
      uploadsExpired: r.uploads_expired,
    }));
  }

  recordGcRun(run: GcRun): void {
    this.db
      .prepare('INSERT INTO gc_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        run.startedAt,
        run.seconds,
        run.dryRun ? 1 : 0,
        run.revisionsDropped,
        run.catalogsDeleted,
        run.objectsDeleted,
        run.bytesFreed,
        run.uploadsExpired,
      );
  }

  /** Counts, for metrics and `barge info`. */
  counts(): { revisions: number; catalogs: number; objects: number; staged: number; condemned: number } {
    const n = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      revisions: n("SELECT count(*) AS n FROM revisions WHERE state != 'dropped'"),
      catalogs: n('SELECT count(*) AS n FROM catalogs'),
      objects: n('SELECT count(*) AS n FROM objects'),
      staged: n('SELECT count(*) AS n FROM staged'),
      condemned: n('SELECT count(*) AS n FROM condemned'),
    };
  }

  close(): void {
    this.db.close();
  }
}
