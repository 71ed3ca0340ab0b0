import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * Chain ids of a layer list: chain[i] names layers 0..i together, from their (compressed) digests,
 * the way DUCC chains them (docs/ducc-compatibility.md §5). Two images whose first k layers are
 * the same blobs share chain[k-1].
 */
export function layerChains(digests: readonly string[]): string[] {
  const out: string[] = [];
  let prev = '';
  for (const d of digests) {
    prev = createHash('sha256')
      .update(prev === '' ? d : `${prev} ${d}`)
      .digest('hex');
    out.push(prev);
  }
  return out;
}

/**
 * The image writer's local index (never served): which flat root holds which full layer chain, so
 * that an image built on a known base copies that root and applies only its own layers (a hint:
 * every hit is checked against the tree before it is used); which flat roots barge made and since
 * when nothing names them (gc removes only those, after the grace); which references each
 * wishlist manages and which were added by hand (sync removes only the former).
 */
export class ImageState {
  private readonly db: Database.Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.db = new Database(path.join(stateDir, 'images.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS flat_roots (chain TEXT PRIMARY KEY, root TEXT NOT NULL, layers INTEGER NOT NULL)',
    );
    if ((this.db.pragma('user_version', { simple: true }) as number) < 1) {
      // Version 1: the roots barge made (flat_roots keeps one root per chain, so two images with
      // the same layers and another config would leave one out), when gc first found each one
      // unnamed; the references each wishlist manages; the references added by hand.
      this.db.transaction(() => {
        this.db.exec(`
          CREATE TABLE IF NOT EXISTS made_roots (root TEXT PRIMARY KEY, unreferenced_since INTEGER);
          INSERT OR IGNORE INTO made_roots (root) SELECT DISTINCT root FROM flat_roots;
          CREATE TABLE IF NOT EXISTS wishlist_refs (wishlist TEXT NOT NULL, reference TEXT NOT NULL,
            missing_since INTEGER, PRIMARY KEY (wishlist, reference));
          CREATE TABLE IF NOT EXISTS added_refs (reference TEXT PRIMARY KEY);
          PRAGMA user_version = 1;`);
      })();
    }
  }

  /** The flat root recorded for a full chain, if any. */
  rootOf(chain: string): { root: string; layers: number } | undefined {
    return this.db.prepare('SELECT root, layers FROM flat_roots WHERE chain = ?').get(chain) as
      | { root: string; layers: number }
      | undefined;
  }

  /** Records that `root` holds exactly the layers of `chain` (and that barge made it). */
  record(chain: string, root: string, layers: number): void {
    this.db
      .prepare('INSERT OR REPLACE INTO flat_roots (chain, root, layers) VALUES (?, ?, ?)')
      .run(chain, root, layers);
    this.recordMade(root);
  }

  /** Records that barge made the flat root `root`: gc may remove it once nothing names it. */
  recordMade(root: string): void {
    this.db
      .prepare(
        'INSERT INTO made_roots (root) VALUES (?) ON CONFLICT (root) DO UPDATE SET unreferenced_since = NULL',
      )
      .run(root);
  }

  /** The flat roots barge made, with when gc first found each unnamed (unix seconds), or null. */
  madeRoots(): { root: string; unreferencedSince: number | null }[] {
    return this.db
      .prepare('SELECT root, unreferenced_since AS unreferencedSince FROM made_roots ORDER BY root')
      .all() as { root: string; unreferencedSince: number | null }[];
  }

  /**
   * Notes what gc saw of the made roots: those in `unnamed` are unnamed since `now` unless they
   * were already, the others are named (a root named again starts its grace afresh next time).
   */
  observeRoots(unnamed: ReadonlySet<string>, now: number): void {
    const since = this.db.prepare(
      'UPDATE made_roots SET unreferenced_since = ? WHERE root = ? AND unreferenced_since IS NULL',
    );
    const named = this.db.prepare('UPDATE made_roots SET unreferenced_since = NULL WHERE root = ?');
    this.db.transaction(() => {
      for (const { root } of this.madeRoots()) {
        if (unnamed.has(root)) since.run(now, root);
        else named.run(root);
      }
    })();
  }

  /** Forgets flat roots gc removed from the tree, with the chains that named them. */
  forgetRoots(roots: readonly string[]): void {
    const made = this.db.prepare('DELETE FROM made_roots WHERE root = ?');
    const chains = this.db.prepare('DELETE FROM flat_roots WHERE root = ?');
    this.db.transaction(() => {
      for (const root of roots) {
        made.run(root);
        chains.run(root);
      }
    })();
  }

  /** The references wishlist `wishlist` manages, with when it stopped producing each (or null). */
  managed(wishlist: string): { reference: string; missingSince: number | null }[] {
    return this.db
      .prepare(
        'SELECT reference, missing_since AS missingSince FROM wishlist_refs WHERE wishlist = ? ORDER BY reference',
      )
      .all(wishlist) as { reference: string; missingSince: number | null }[];
  }

  /** `wishlist` produces `reference` (again): it manages it, and it is not missing. */
  manage(wishlist: string, reference: string): void {
    this.db
      .prepare(
        `INSERT INTO wishlist_refs (wishlist, reference) VALUES (?, ?)
         ON CONFLICT (wishlist, reference) DO UPDATE SET missing_since = NULL`,
      )
      .run(wishlist, reference);
  }

  /** `wishlist` no longer produces `reference`: missing since `now` unless already so; returns since when. */
  markMissing(wishlist: string, reference: string, now: number): number {
    this.db
      .prepare(
        'UPDATE wishlist_refs SET missing_since = ? WHERE wishlist = ? AND reference = ? AND missing_since IS NULL',
      )
      .run(now, wishlist, reference);
    const row = this.db
      .prepare('SELECT missing_since AS since FROM wishlist_refs WHERE wishlist = ? AND reference = ?')
      .get(wishlist, reference) as { since: number | null } | undefined;
    return row?.since ?? now;
  }

  /** `wishlist` stops managing `reference` (something else keeps it). */
  forgetManaged(wishlist: string, reference: string): void {
    this.db
      .prepare('DELETE FROM wishlist_refs WHERE wishlist = ? AND reference = ?')
      .run(wishlist, reference);
  }

  /** Whether anything but `wishlist` still wants `reference`: another wishlist producing it, or `images add`. */
  wantedElsewhere(wishlist: string, reference: string): boolean {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM added_refs WHERE reference = @reference UNION ALL
           SELECT 1 FROM wishlist_refs WHERE reference = @reference AND wishlist != @wishlist AND missing_since IS NULL`,
        )
        .get({ wishlist, reference }) !== undefined
    );
  }

  /** Whether `reference` was added by hand (`images add`, the API): no wishlist sync removes it. */
  isAddedByHand(reference: string): boolean {
    return this.db.prepare('SELECT 1 FROM added_refs WHERE reference = ?').get(reference) !== undefined;
  }

  /** Records that `reference` was added by hand. */
  recordAddedByHand(reference: string): void {
    this.db.prepare('INSERT OR IGNORE INTO added_refs (reference) VALUES (?)').run(reference);
  }

  /** Forgets a reference that left the tree: neither added by hand nor managed by any wishlist. */
  forgetReference(reference: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM added_refs WHERE reference = ?').run(reference);
      this.db.prepare('DELETE FROM wishlist_refs WHERE reference = ?').run(reference);
    })();
  }

  close(): void {
    this.db.close();
  }
}
