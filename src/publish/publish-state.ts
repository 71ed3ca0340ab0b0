import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Chunk } from '../catalog/index.js';
import type { HashText } from '../object/index.js';

/** What ingesting one file's content produced: a whole-file object, or chunks. */
export interface ContentRef {
  hash: HashText | null;
  chunks: Chunk[];
  size: number;
}

/** The stat fields that identify an unchanged source file (git's index does the same). */
export interface StatKey {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * The writer's local state beside a repository (never served): a stat cache mapping a source file
 * to the objects its content became, so an unchanged tree republishes without reading a byte, and
 * a content cache mapping the SHA-256 of plain content to its objects, so duplicate content is
 * compressed once. Both are only hints: a miss costs time, never correctness, and a hit is checked
 * against the store before it is trusted.
 */
export class PublishState {
  private readonly db: Database.Database;
  private readonly getStat: Database.Statement;
  private readonly putStat: Database.Statement;
  private readonly getContent: Database.Statement;
  private readonly putContent: Database.Statement;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.db = new Database(path.join(stateDir, 'state.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.defaultSafeIntegers(true);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS stat_cache (path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER,
        mtime_ns INTEGER, ctime_ns INTEGER, content TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS content_cache (sha256 BLOB PRIMARY KEY, content TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS published_trees (source TEXT NOT NULL, at TEXT NOT NULL, fingerprint BLOB NOT NULL,
        root_hash TEXT NOT NULL, PRIMARY KEY (source, at));
    `);
    this.getStat = this.db.prepare(
      'SELECT dev, ino, size, mtime_ns, ctime_ns, content FROM stat_cache WHERE path = ?',
    );
    this.putStat = this.db.prepare(
      'INSERT OR REPLACE INTO stat_cache (path, dev, ino, size, mtime_ns, ctime_ns, content) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.getContent = this.db.prepare('SELECT content FROM content_cache WHERE sha256 = ?');
    this.putContent = this.db.prepare('INSERT OR REPLACE INTO content_cache (sha256, content) VALUES (?, ?)');
  }

  /** The cached content of a source file whose stat fields are unchanged, else undefined. */
  lookupStat(file: string, key: StatKey): ContentRef | undefined {
    const r = this.getStat.get(file) as
      | { dev: bigint; ino: bigint; size: bigint; mtime_ns: bigint; ctime_ns: bigint; content: string }
      | undefined;
    if (!r) return undefined;
    if (
      r.dev !== key.dev ||
      r.ino !== key.ino ||
      r.size !== key.size ||
      r.mtime_ns !== key.mtimeNs ||
      r.ctime_ns !== key.ctimeNs
    ) {
      return undefined;
    }
    return JSON.parse(r.content) as ContentRef;
  }

  /** The objects of content with this SHA-256, if seen before. */
  lookupContent(sha256: Buffer): ContentRef | undefined {
    const r = this.getContent.get(sha256) as { content: string } | undefined;
    return r ? (JSON.parse(r.content) as ContentRef) : undefined;
  }

  /**
   * Records results in one transaction. Files changed within `racyWindowNs` of `now` are left out
   * of the stat cache: a write in the same timestamp tick after our read would keep every stat
   * field equal (the "racy git" problem).
   */
  record(
    stats: { file: string; key: StatKey; content: ContentRef }[],
    contents: { sha256: Buffer; content: ContentRef }[],
    nowNs: bigint,
    racyWindowNs = 2_000_000_000n,
  ): void {
    this.db.transaction(() => {
      for (const s of stats) {
        if (nowNs - s.key.mtimeNs < racyWindowNs || nowNs - s.key.ctimeNs < racyWindowNs) continue;
        this.putStat.run(
          s.file,
          s.key.dev,
          s.key.ino,
          s.key.size,
          s.key.mtimeNs,
          s.key.ctimeNs,
          JSON.stringify(s.content),
        );
      }
      for (const c of contents) this.putContent.run(c.sha256, JSON.stringify(c.content));
    })();
  }

  /** The fingerprint of the tree last published from `source` to `at`, and the root catalog it made. */
  lastPublishedTree(source: string, at: string): { fingerprint: Buffer; rootHash: string } | undefined {
    const r = this.db
      .prepare('SELECT fingerprint, root_hash FROM published_trees WHERE source = ? AND at = ?')
      .get(source, at) as { fingerprint: Buffer; root_hash: string } | undefined;
    return r ? { fingerprint: r.fingerprint, rootHash: r.root_hash } : undefined;
  }

  /** Records that publishing `source` to `at` left the repository at `rootHash`. */
  recordPublishedTree(source: string, at: string, fingerprint: Buffer, rootHash: string): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO published_trees (source, at, fingerprint, root_hash) VALUES (?, ?, ?, ?)',
      )
      .run(source, at, fingerprint, rootHash);
  }

  /** Forgets content entries naming objects that no longer exist (after gc). */
  forgetContent(predicate: (ref: ContentRef) => boolean): number {
    const rows = this.db.prepare('SELECT sha256, content FROM content_cache').all() as {
      sha256: Buffer;
      content: string;
    }[];
    const del = this.db.prepare('DELETE FROM content_cache WHERE sha256 = ?');
    let n = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        if (predicate(JSON.parse(r.content) as ContentRef)) {
          del.run(r.sha256);
          n++;
        }
      }
    })();
    return n;
  }

  close(): void {
    this.db.close();
  }
}
