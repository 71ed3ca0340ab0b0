import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Where an upload is in its life. */
export type UploadState = 'pending' | 'published';

/** One upload of a repository, as the ledger keeps it. */
export interface UploadRecord {
  /** `<group>/<hash>`: the id clients use (cvmfs-user-pub's cid). */
  cid: string;
  group: string;
  /** Repository path of the upload's root, e.g. `/user/cms/ab12…`. */
  path: string;
  state: UploadState;
  /** Bytes of the tarball as uploaded (compressed). */
  tarballBytes: number;
  files: number;
  /** Uncompressed bytes of its files. */
  bytes: number;
  /** Bytes of new objects it added to the store (what the repository did not hold already). */
  addedBytes: number;
  /** Revision that published it (0 while pending). */
  revision: number;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds of the last exists/update/publish; expiry counts from here. */
  lastUsedAt: number;
  /** Pinned uploads never expire (analysis preservation). */
  pinned: boolean;
  /** Token id of the publisher. */
  publisher: string;
}

interface Row {
  cid: string;
  grp: string;
  path: string;
  state: UploadState;
  tarball_bytes: number;
  files: number;
  bytes: number;
  added_bytes: number;
  revision: number;
  created_at: number;
  last_used_at: number;
  pinned: number;
  publisher: string;
}

const fromRow = (r: Row): UploadRecord => ({
  cid: r.cid,
  group: r.grp,
  path: r.path,
  state: r.state,
  tarballBytes: r.tarball_bytes,
  files: r.files,
  bytes: r.bytes,
  addedBytes: r.added_bytes,
  revision: r.revision,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  pinned: r.pinned !== 0,
  publisher: r.publisher,
});

/**
 * The upload ledger of one repository (`<state>/uploads.db`, never served): which uploads it
 * holds, when each was last used and whether it is pinned. `pending` rows are written before the
 * revision that publishes them, so a crash in between leaves a row the next start reconciles with
 * the tree; readers treat pending as absent.
 */
export class UploadsDb {
  private readonly db: Database.Database;
  private readonly byCid: Database.Statement<[string], Row>;
  private readonly touchOne: Database.Statement<[number, string]>;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.db = new Database(path.join(stateDir, 'uploads.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS uploads (
      cid TEXT PRIMARY KEY, grp TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL,
      tarball_bytes INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
      added_bytes INTEGER NOT NULL, revision INTEGER NOT NULL, created_at INTEGER NOT NULL,
      last_used_at INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0, publisher TEXT NOT NULL)`);
    this.db.exec('CREATE INDEX IF NOT EXISTS uploads_group ON uploads (grp, created_at)');
    this.db.exec('CREATE INDEX IF NOT EXISTS uploads_idle ON uploads (pinned, last_used_at)');
    this.byCid = this.db.prepare('SELECT * FROM uploads WHERE cid = ?');
    this.touchOne = this.db.prepare(
      "UPDATE uploads SET last_used_at = max(last_used_at, ?) WHERE cid = ? AND state = 'published'",
    );
  }

  get(cid: string): UploadRecord | undefined {
    const row = this.byCid.get(cid);
    return row ? fromRow(row) : undefined;
  }

  /** Records uploads (pending before their revision, published after), replacing older rows. */
  put(records: readonly UploadRecord[]): void {
    const insert = this.db.prepare(`INSERT OR REPLACE INTO uploads
      (cid, grp, path, state, tarball_bytes, files, bytes, added_bytes, revision, created_at, last_used_at, pinned, publisher)
      VALUES (@cid, @group, @path, @state, @tarballBytes, @files, @bytes, @addedBytes, @revision, @createdAt, @lastUsedAt, @pinned, @publisher)`);
    this.db.transaction(() => {
      for (const r of records) insert.run({ ...r, pinned: r.pinned ? 1 : 0 });
    })();
  }

  /** Marks uploads published in `revision`. */
  markPublished(cids: readonly string[], revision: number): void {
    const update = this.db.prepare("UPDATE uploads SET state = 'published', revision = ? WHERE cid = ?");
    this.db.transaction(() => {
      for (const cid of cids) update.run(revision, cid);
    })();
  }

  /** Refreshes the expiry clock of a published upload; false if there is none. */
  touch(cid: string, now: number): boolean {
    return this.touchOne.run(now, cid).changes > 0;
  }

  /** Pins or unpins; false if there is no such published upload. */
  setPinned(cid: string, pinned: boolean): boolean {
    return (
      this.db
        .prepare("UPDATE uploads SET pinned = ? WHERE cid = ? AND state = 'published'")
        .run(pinned ? 1 : 0, cid).changes > 0
    );
  }

  /** Published uploads of a group, newest first. */
  listGroup(group: string): UploadRecord[] {
    return (
      this.db
        .prepare("SELECT * FROM uploads WHERE grp = ? AND state = 'published' ORDER BY created_at DESC, cid")
        .all(group) as Row[]
    ).map(fromRow);
  }

  /** Every row, for reconciliation and `barge uploads ls`. */
  all(): UploadRecord[] {
    return (this.db.prepare('SELECT * FROM uploads ORDER BY grp, created_at DESC, cid').all() as Row[]).map(
      fromRow,
    );
  }

  /** Published, unpinned uploads last used before `before` (unix seconds). */
  idleSince(before: number): UploadRecord[] {
    return (
      this.db
        .prepare(
          "SELECT * FROM uploads WHERE pinned = 0 AND last_used_at < ? AND state = 'published' ORDER BY last_used_at",
        )
        .all(before) as Row[]
    ).map(fromRow);
  }

  /** Forgets uploads (removed from the tree, or pending ones that never made it). */
  delete(cids: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM uploads WHERE cid = ?');
    this.db.transaction(() => {
      for (const cid of cids) del.run(cid);
    })();
  }

  /** Counts by state, for metrics. */
  counts(): { published: number; pending: number; pinned: number } {
    const row = this.db
      .prepare(
        "SELECT sum(state = 'published') AS published, sum(state = 'pending') AS pending, sum(pinned) AS pinned FROM uploads",
      )
      .get() as { published: number | null; pending: number | null; pinned: number | null };
    return { published: row.published ?? 0, pending: row.pending ?? 0, pinned: row.pinned ?? 0 };
  }

  close(): void {
    this.db.close();
  }
}
