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
 * that an image built on a known base copies that root and applies only its own layers. A hint:
 * every hit is checked against the tree before it is used.
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
  }

  /** The flat root recorded for a full chain, if any. */
  rootOf(chain: string): { root: string; layers: number } | undefined {
    return this.db.prepare('SELECT root, layers FROM flat_roots WHERE chain = ?').get(chain) as
      | { root: string; layers: number }
      | undefined;
  }

  /** Records that `root` holds exactly the layers of `chain`. */
  record(chain: string, root: string, layers: number): void {
    this.db
      .prepare('INSERT OR REPLACE INTO flat_roots (chain, root, layers) VALUES (?, ?, ?)')
      .run(chain, root, layers);
  }

  close(): void {
    this.db.close();
  }
}
