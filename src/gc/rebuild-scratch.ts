import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Catalog } from '../catalog/index.js';
import { type HashText, objectPath } from '../object/index.js';
import type { LedgerRevision } from '../publish/index.js';

/** Loads a catalog by hash, verified (Publisher.loadCatalog). */
export type RebuildLoader = (hash: HashText, mountpoint: string) => Promise<Catalog>;

/**
 * The ledger being rebuilt, in a scratch SQLite file beside the ledger (`ledger.rebuild.db`), so
 * that neither memory nor the live ledger's write lock grows with the repository: a repository
 * of millions of objects is counted on disk, and the live ledger is rewritten from it in one
 * short transaction at the end (Ledger itself is never swapped under the Publisher's handle).
 *
 * Counts follow what gc releases (gc.ts planSweep), not a different notion of "reference":
 * a catalog's refs are the revisions rooted at it plus one per nested-catalog row of each live
 * parent; an object's refs are the distinct catalogs naming it. Each catalog is read once.
 */
export class RebuildScratch {
  readonly db: Database.Database;
  private readonly bumpCatalog: Database.Statement;
  private readonly addCatalog: Database.Statement;
  private readonly bumpObject: Database.Statement;

  constructor(readonly file: string) {
    // A scratch file left by a rebuild that died is worthless: start over.
    for (const f of [file, `${file}-journal`]) rmSync(f, { force: true });
    this.db = new Database(file);
    // Scratch data: nothing to keep after a crash, but savepoints must roll back (no journal_mode OFF).
    this.db.pragma('journal_mode = MEMORY');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`
      CREATE TABLE revisions (
        revision INTEGER PRIMARY KEY, root TEXT NOT NULL, timestamp INTEGER NOT NULL,
        history TEXT NOT NULL, certificate TEXT NOT NULL);
      CREATE TABLE catalogs (key TEXT PRIMARY KEY, mountpoint TEXT NOT NULL, refs INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE objects (key TEXT PRIMARY KEY, refs INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE orphans (key TEXT PRIMARY KEY) WITHOUT ROWID;
    `);
    this.bumpCatalog = this.db.prepare('UPDATE catalogs SET refs = refs + 1 WHERE key = ?');
    this.addCatalog = this.db.prepare('INSERT INTO catalogs (key, mountpoint, refs) VALUES (?, ?, 1)');
    this.bumpObject = this.db.prepare(
      'INSERT INTO objects (key, refs) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET refs = refs + 1',
    );
    // One transaction for the whole walk (one savepoint per revision); committed by finish().
    this.db.exec('BEGIN');
  }

  /**
   * Counts one revision rooted at `root` (already opened by the caller, who closes it) and walks
   * the catalogs of its tree that no earlier revision shared. All or nothing: if any catalog of
   * the tree cannot be read, the revision's counts are rolled back and the error is thrown.
   * Returns how many catalogs were read.
   */
  async addTree(root: Catalog, rootHash: HashText, load: RebuildLoader): Promise<number> {
    this.db.exec('SAVEPOINT tree');
    let read = 0;
    try {
      const stack: { hash: HashText; mountpoint: string }[] = [];
      if (this.count(objectPath(rootHash, 'C'), '')) stack.push({ hash: rootHash, mountpoint: '' });
      while (stack.length > 0) {
        const ref = stack.pop() as { hash: HashText; mountpoint: string };
        const catalog = ref.hash === rootHash ? root : await load(ref.hash, ref.mountpoint);
        read++;
        try {
          for (const key of new Set(catalog.contentHashes().map((c) => objectPath(c.hash, c.suffix)))) {
            this.bumpObject.run(key);
          }
          for (const n of catalog.nestedCatalogs()) {
            if (this.count(objectPath(n.hash, 'C'), n.path)) stack.push({ hash: n.hash, mountpoint: n.path });
          }
        } finally {
          if (catalog !== root) catalog.close();
        }
      }
      this.db.exec('RELEASE tree');
      return read;
    } catch (err) {
      this.db.exec('ROLLBACK TO tree');
      this.db.exec('RELEASE tree');
      throw err;
    }
  }

  /** One more reference to a catalog; true when it is new (its contents still to be read). */
  private count(key: string, mountpoint: string): boolean {
    if (this.bumpCatalog.run(key).changes > 0) return false;
    this.addCatalog.run(key, mountpoint);
    return true;
  }

  /** Whether a store key is a catalog or object some counted revision reaches. */
  reaches(): (key: string) => boolean {
    const c = this.db.prepare('SELECT 1 FROM catalogs WHERE key = ?').pluck();
    const o = this.db.prepare('SELECT 1 FROM objects WHERE key = ?').pluck();
    return (key) => c.get(key) !== undefined || o.get(key) !== undefined;
  }

  /** Records a revision row (its root already counted by addTree). */
  addRevision(r: Omit<LedgerRevision, 'state'>): void {
    this.db
      .prepare(
        'INSERT INTO revisions (revision, root, timestamp, history, certificate) VALUES (?, ?, ?, ?, ?)',
      )
      .run(r.revision, r.root, r.timestamp, r.history, r.certificate);
  }

  /** Records store keys nothing reaches. */
  addOrphans(keys: readonly string[]): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO orphans (key) VALUES (?)');
    for (const k of keys) insert.run(k);
  }

  /** Rows counted so far. */
  counts(): { revisions: number; catalogs: number; objects: number; orphans: number } {
    const n = (table: string) => Number(this.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
    return {
      revisions: n('revisions'),
      catalogs: n('catalogs'),
      objects: n('objects'),
      orphans: n('orphans'),
    };
  }

  /** Commits the scratch file so that the ledger's connection can ATTACH it. */
  finish(): void {
    this.db.exec('COMMIT');
  }

  /** Closes and removes the scratch file. */
  close(): void {
    if (this.db.open) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.db.close();
    }
    for (const f of [this.file, `${this.file}-journal`]) rmSync(f, { force: true });
  }
}
