import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Storage of one repository at one moment: what its current revision holds against what is on disk. */
export interface StatsSample {
  /** Unix seconds. */
  at: number;
  revision: number;
  rootHash: string;
  /** Distinct objects the revision references and the logical bytes of its files (as `barge info`). */
  objects: number;
  logicalBytes: number;
  /** Regular files of the revision. */
  files: number;
  /** Objects under `data/` and their bytes on disk: every kept revision, plus garbage not yet collected. */
  storedObjects: number;
  storedBytes: number;
  /** What the sample was taken for: the revision and gc state it describes. */
  key: string;
  /** How long taking it took. */
  seconds: number;
}

/** The last `barge images sync` outcome of one image reference. */
export interface ImageSyncRecord {
  reference: string;
  /** Unix seconds of the last attempt, and of the last one that did not fail. */
  lastAt: number;
  lastSuccessAt: number | null;
  status: 'published' | 'unchanged' | 'failed';
  revision: number | null;
  error: { code: string; message: string } | null;
}

/** Samples kept per repository; older ones are thinned away (a year of hourly publishes fits). */
const MAX_SAMPLES = 10_000;

/**
 * The dashboard's history of one repository (`<state>/stats.db`, never served): a storage sample
 * appended whenever the revision or the gc state changed, and the last image sync outcome of each
 * reference. Nothing here is needed to serve or publish: losing it loses only the charts' past.
 */
export class StatsDb {
  private readonly db: Database.Database;

  /** With `readOnly`, an existing database is only read (several read-only `barge serve`s). */
  constructor(stateDir: string, options: { readOnly?: boolean } = {}) {
    if (options.readOnly) {
      this.db = new Database(path.join(stateDir, 'stats.db'), { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 5000');
      return;
    }
    mkdirSync(stateDir, { recursive: true });
    this.db = new Database(path.join(stateDir, 'stats.db'));
    this.db.pragma('journal_mode = WAL');
    // A sample lost to a power cut is retaken on the next change; no fsync per sample.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS samples (
        at INTEGER NOT NULL, revision INTEGER NOT NULL, root TEXT NOT NULL, objects INTEGER NOT NULL,
        logical_bytes INTEGER NOT NULL, files INTEGER NOT NULL, stored_objects INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL, key TEXT NOT NULL, seconds REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS samples_at ON samples (at);
      CREATE TABLE IF NOT EXISTS image_syncs (
        reference TEXT PRIMARY KEY, last_at INTEGER NOT NULL, last_success_at INTEGER,
        status TEXT NOT NULL, revision INTEGER, error_code TEXT, error_message TEXT);
    `);
  }

  /** Appends a sample, thinning the oldest half to every other row once MAX_SAMPLES is reached. */
  append(s: StatsSample): void {
    this.db
      .prepare('INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        s.at,
        s.revision,
        s.rootHash,
        s.objects,
        s.logicalBytes,
        s.files,
        s.storedObjects,
        s.storedBytes,
        s.key,
        s.seconds,
      );
    const n = (this.db.prepare('SELECT count(*) AS n FROM samples').get() as { n: number }).n;
    if (n > MAX_SAMPLES) {
      // The chart keeps its whole span at half the resolution in its older half.
      this.db
        .prepare(
          'DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples ORDER BY at, rowid LIMIT ?) AND rowid % 2 = 0',
        )
        .run(Math.floor(n / 2));
    }
  }

  /** The newest sample, if any. */
  latest(): StatsSample | undefined {
    const row = this.db.prepare('SELECT * FROM samples ORDER BY at DESC, rowid DESC LIMIT 1').get();
    return row ? fromRow(row as SampleRow) : undefined;
  }

  /** The newest `limit` samples, oldest first. */
  samples(limit = 1000): StatsSample[] {
    const rows = this.db
      .prepare('SELECT * FROM samples ORDER BY at DESC, rowid DESC LIMIT ?')
      .all(limit) as SampleRow[];
    return rows.reverse().map(fromRow);
  }

  /** Records the outcome of syncing one image (what `barge images sync` reports per reference). */
  recordSync(outcome: {
    reference: string;
    status: ImageSyncRecord['status'];
    revision?: number;
    error?: { code: string; message: string };
    at?: number;
  }): void {
    const at = outcome.at ?? Math.floor(Date.now() / 1000);
    const ok = outcome.status !== 'failed';
    this.db
      .prepare(
        `INSERT INTO image_syncs VALUES (@reference, @at, @success, @status, @revision, @code, @message)
         ON CONFLICT (reference) DO UPDATE SET last_at = @at,
           last_success_at = coalesce(@success, last_success_at), status = @status,
           revision = coalesce(@revision, revision), error_code = @code, error_message = @message`,
      )
      .run({
        reference: outcome.reference,
        at,
        success: ok ? at : null,
        status: outcome.status,
        revision: outcome.revision ?? null,
        code: outcome.error?.code ?? null,
        message: outcome.error?.message ?? null,
      });
  }

  /** The last sync outcome of every reference. */
  syncs(): ImageSyncRecord[] {
    return (this.db.prepare('SELECT * FROM image_syncs ORDER BY reference').all() as SyncRow[]).map((r) => ({
      reference: r.reference,
      lastAt: r.last_at,
      lastSuccessAt: r.last_success_at,
      status: r.status,
      revision: r.revision,
      error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    }));
  }

  close(): void {
    this.db.close();
  }
}

interface SampleRow {
  at: number;
  revision: number;
  root: string;
  objects: number;
  logical_bytes: number;
  files: number;
  stored_objects: number;
  stored_bytes: number;
  key: string;
  seconds: number;
}

interface SyncRow {
  reference: string;
  last_at: number;
  last_success_at: number | null;
  status: ImageSyncRecord['status'];
  revision: number | null;
  error_code: string | null;
  error_message: string | null;
}

function fromRow(r: SampleRow): StatsSample {
  return {
    at: r.at,
    revision: r.revision,
    rootHash: r.root,
    objects: r.objects,
    logicalBytes: r.logical_bytes,
    files: r.files,
    storedObjects: r.stored_objects,
    storedBytes: r.stored_bytes,
    key: r.key,
    seconds: r.seconds,
  };
}
