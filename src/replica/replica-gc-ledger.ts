import type Database from 'better-sqlite3';
import { objectPath } from '../object/index.js';
import type { ReplicaLedger } from './replica-ledger.js';

/** What a replica gc decided: ledger rows to release and files to delete. */
export interface ReplicaSweep {
  /** Completed catalogs no kept root reaches. */
  catalogs: string[];
  /** refs decrements of content objects (the dead catalogs' distinct content keys). */
  objectDecrements: Map<string, number>;
  /** Content objects whose refs reach 0 and no unrecorded kept catalog names. */
  deadObjects: string[];
  /** Certificates, histories and meta-info objects the source no longer names. */
  deadExtras: string[];
}

/**
 * The replica ledger's queries for gc (replica-gc.ts), kept apart from the snapshot's: prepared
 * once, used while a gc holds the replica's lock.
 */
export class ReplicaGcLedger {
  private readonly db: Database.Database;
  private readonly childrenOf: Database.Statement;
  private readonly refsOf: Database.Statement;
  private readonly catalogHeld: Database.Statement;
  private readonly extraHeld: Database.Statement;

  constructor(ledger: ReplicaLedger) {
    this.db = ledger.database;
    this.childrenOf = this.db.prepare('SELECT children FROM catalogs WHERE key = ?');
    this.refsOf = this.db.prepare('SELECT refs FROM objects WHERE key = ?');
    this.catalogHeld = this.db.prepare('SELECT 1 FROM catalogs WHERE key = ?');
    this.extraHeld = this.db.prepare('SELECT 1 FROM extras WHERE key = ?');
  }

  /** The nested catalogs of a completed catalog; undefined when the ledger has no row for it. */
  children(key: string): string[] | undefined {
    const row = this.childrenOf.get(key) as { children: string } | undefined;
    if (!row) return undefined;
    return row.children === '' ? [] : row.children.split(' ');
  }

  /** Every completed catalog's key (one row each: the catalog graph, never the objects). */
  catalogKeys(): string[] {
    return (this.db.prepare('SELECT key FROM catalogs').all() as { key: string }[]).map((r) => r.key);
  }

  /** Completed catalogs naming a content object. */
  refs(key: string): number {
    return (this.refsOf.get(key) as { refs: number } | undefined)?.refs ?? 0;
  }

  /** The extras (certificates, histories, meta-info) the replica holds. */
  extras(): string[] {
    return (this.db.prepare('SELECT key FROM extras').all() as { key: string }[]).map((r) => r.key);
  }

  /**
   * The root hashes the replica served as HEAD in its last `k` snapshots that changed it (newest
   * first): a client mid-remount may still read them.
   */
  recentHeads(k: number): { hash: string; revision: number }[] {
    if (k <= 0) return [];
    return this.db
      .prepare(
        `SELECT hash, revision FROM roots WHERE reason = 'head'
         ORDER BY last_seen DESC, revision DESC LIMIT ?`,
      )
      .all(k) as { hash: string; revision: number }[];
  }

  /** The roots the last successful snapshot saw held (for a source without a reflog). */
  lastSnapshotRoots(): { hash: string; reason: string; revision: number }[] {
    return this.db
      .prepare(
        `SELECT hash, reason, revision FROM roots WHERE held = 1 AND last_seen >=
           (SELECT MAX(started_at) FROM snapshots WHERE status = 'done')`,
      )
      .all() as { hash: string; reason: string; revision: number }[];
  }

  /** The revision the ledger recorded for a root hash, if it saw one. */
  revisionOf(hash: string): number | undefined {
    const row = this.db.prepare('SELECT MAX(revision) AS r FROM roots WHERE hash = ?').get(hash) as {
      r: number | null;
    };
    return row.r === null ? undefined : row.r;
  }

  /** Whether a key is held again (a snapshot since took it back): a condemned file it is spared. */
  isHeld(key: string): boolean {
    if (key.endsWith('C')) return this.catalogHeld.get(key) !== undefined;
    return this.refs(key) > 0 || this.extraHeld.get(key) !== undefined;
  }

  /**
   * The decision, in one transaction: dead catalogs, released refs and dead extras leave the
   * ledger, and every file to delete is recorded as condemned. A kill after this leaves the list
   * for the next gc; nothing has been deleted yet.
   */
  condemn(sweep: ReplicaSweep): void {
    const delCatalog = this.db.prepare('DELETE FROM catalogs WHERE key = ?');
    const decObject = this.db.prepare('UPDATE objects SET refs = refs - ? WHERE key = ?');
    const delObject = this.db.prepare('DELETE FROM objects WHERE key = ? AND refs <= 0');
    const delExtra = this.db.prepare('DELETE FROM extras WHERE key = ?');
    const delRoot = this.db.prepare('DELETE FROM roots WHERE hash = ?');
    const add = this.db.prepare(
      'INSERT INTO condemned (key, rank) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET rank = MIN(rank, excluded.rank)',
    );
    const dead = new Set(sweep.catalogs);
    const roots = (this.db.prepare('SELECT DISTINCT hash FROM roots').all() as { hash: string }[])
      .map((r) => ({ hash: r.hash, key: objectPath(r.hash, 'C') }))
      .filter((r) => dead.has(r.key));
    this.db.transaction(() => {
      for (const k of sweep.catalogs) delCatalog.run(k);
      for (const [k, n] of sweep.objectDecrements) {
        decObject.run(n, k);
        delObject.run(k);
      }
      for (const k of sweep.deadExtras) delExtra.run(k);
      // Roots whose catalogs go are forgotten, so `recentHeads` never names a deleted revision.
      for (const r of roots) {
        delRoot.run(r.hash);
        add.run(r.key, 0);
      }
      for (const k of sweep.catalogs) add.run(k, 1);
      for (const k of [...sweep.deadObjects, ...sweep.deadExtras]) add.run(k, 2);
    })();
  }

  /**
   * The condemned keys: root catalogs first, other catalogs next, objects last, so that killed
   * midway no catalog a reader can still reach (a previous_revision) lacks what it names.
   */
  condemned(): string[] {
    const rows = this.db.prepare('SELECT key FROM condemned ORDER BY rank').all() as { key: string }[];
    return rows.map((r) => r.key);
  }

  /** Forgets condemned keys whose files are gone (or were spared). */
  clearCondemned(keys: readonly string[]): void {
    const clear = this.db.prepare('DELETE FROM condemned WHERE key = ?');
    this.db.transaction(() => {
      for (const k of keys) clear.run(k);
    })();
  }
}
