import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type HashText, parseObjectPath } from '../object/index.js';
import type { Ledger, Publisher } from '../publish/index.js';
import { openForRebuild } from './rebuild-open.js';
import { type ReflogRebuild, rebuildReflog } from './rebuild-reflog.js';
import { countRevisions } from './rebuild-revisions.js';
import { RebuildScratch } from './rebuild-scratch.js';

/** Options of rebuildLedger. */
export interface RebuildOptions {
  dataDir: string;
  fqrn: string;
  /** Called with progress lines. */
  onProgress?: (line: string) => void;
}

/** What a rebuild found and recorded. */
export interface RebuildReport {
  /** Revision rows written: every revision whose whole catalog tree exists. */
  revisions: number;
  catalogs: number;
  objects: number;
  /** Object files nothing reaches, staged for the next gc. */
  orphans: number;
  seconds: number;
  /** Roots kept live without a revision row (their number is taken, or above the served one). */
  pinned: HashText[];
  /** Old roots left out because part of their tree is missing or damaged (collected as orphans). */
  unreadable: HashText[];
  /** Old roots left out because an earlier gc dropped them (it was killed before deleting them all). */
  dropped: HashText[];
  reflog: ReflogRebuild;
}

/**
 * `barge gc <fqrn> --rebuild-ledger`: rebuilds the gc ledger from the repository itself, for a
 * repository written by cvmfs_server or an older barge, or after a disaster. Under the repository
 * lock it finds every revision that still exists (the served root, the previous_revision chains,
 * the tags of the current history, the reflog's roots), counts what their catalog trees reference
 * (each catalog read once, however many revisions share it), stages every object file nothing
 * reaches as an orphan for the next gc, and replaces the ledger's contents in one transaction
 * (the gc history stays). The reflog gains what it lacks and loses what is gone, re-signed.
 *
 * Nothing is guessed: a served or tagged revision that cannot be read completely stops the rebuild
 * before anything changes; restore the damaged object and run it again.
 */
export async function rebuildLedger(options: RebuildOptions): Promise<RebuildReport> {
  const started = performance.now();
  const say = options.onProgress ?? (() => {});
  const publisher = await openForRebuild(options.dataDir, options.fqrn, say);
  const scratch = new RebuildScratch(path.join(publisher.paths.state, 'ledger.rebuild.db'));
  try {
    const found = await countRevisions(publisher, scratch, say);
    const orphans = await findOrphans(publisher, scratch, found.named);
    say(`${orphans} object file(s) nothing reaches, left for the next gc`);
    const counts = scratch.counts();
    scratch.finish();
    replaceLedger(publisher.ledger, scratch.file);
    const reflog = await rebuildReflog(publisher, found.reflog);
    if (reflog.added + reflog.removed > 0 || reflog.recreated) {
      say(
        `reflog ${reflog.recreated ? 'written anew' : 'updated'}: ${reflog.added} added, ${reflog.removed} removed, manifest re-signed`,
      );
    }
    return {
      ...counts,
      seconds: (performance.now() - started) / 1000,
      pinned: found.pinned,
      unreadable: found.unreadable,
      dropped: found.dropped,
      reflog,
    };
  } finally {
    scratch.close();
    await publisher.close();
  }
}

/**
 * Stages every object file under `data/` that no counted revision reaches, that no revision names
 * (histories, certificates, meta-info) and that no live writer session has staged.
 */
async function findOrphans(
  publisher: Publisher,
  scratch: RebuildScratch,
  named: Set<string>,
): Promise<number> {
  const reaches = scratch.reaches();
  const live = new Set(
    publisher.ledger.db
      .prepare('SELECT DISTINCT key FROM staged WHERE session IN (SELECT id FROM sessions)')
      .pluck()
      .all() as string[],
  );
  let batch: string[] = [];
  let count = 0;
  for await (const { key } of publisher.store.list('data/')) {
    // Only content-addressed names: anything else in data/ is not ours to judge.
    if (!parseObjectPath(key) || named.has(key) || live.has(key) || reaches(key)) continue;
    batch.push(key);
    count++;
    if (batch.length >= 10_000) {
      scratch.addOrphans(batch);
      batch = [];
    }
  }
  scratch.addOrphans(batch);
  return count;
}

/**
 * Replaces the ledger's revisions, catalogs, objects, condemned and orphan rows with the scratch
 * ledger's, in one transaction on the Publisher's own connection (so its handle stays valid and
 * a crash leaves either ledger whole). gc runs and live writer sessions stay.
 */
function replaceLedger(ledger: Ledger, file: string): void {
  const db = ledger.db;
  const now = Math.floor(Date.now() / 1000);
  db.prepare('ATTACH DATABASE ? AS rebuilt').run(file);
  try {
    db.transaction(() => {
      db.exec(`
        DELETE FROM revisions;
        INSERT INTO revisions (revision, root, timestamp, history, certificate, state)
          SELECT revision, root, timestamp, history, certificate, 'committed' FROM rebuilt.revisions;
        DELETE FROM catalogs;
        INSERT INTO catalogs (key, mountpoint, refs) SELECT key, mountpoint, refs FROM rebuilt.catalogs;
        DELETE FROM objects;
        INSERT INTO objects (key, refs) SELECT key, refs FROM rebuilt.objects;
        DELETE FROM condemned;
        DELETE FROM staged WHERE session NOT IN (SELECT id FROM sessions);
      `);
      db.prepare(
        "INSERT OR IGNORE INTO staged (key, session, at) SELECT key, 'ended', ? FROM rebuilt.orphans",
      ).run(now);
      ledger.setMeta('complete', 'yes');
      ledger.setMeta('rebuilt_at', String(now));
    }).immediate();
  } finally {
    db.exec('DETACH DATABASE rebuilt');
  }
}
