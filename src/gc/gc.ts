import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Catalog } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import { HistoryDb, TRUNK, TRUNK_PREVIOUS } from '../history/index.js';
import { type FlatRootPlan, ImageState, planFlatRoots, removeFlatRoots } from '../image/index.js';
import { decompress, objectPath } from '../object/index.js';
import {
  failpoint,
  Ledger,
  Publisher,
  type RetentionPolicy,
  readRepositoryConfig,
} from '../publish/index.js';
import { repositoryPaths } from '../repository/index.js';
import { CommitQueue } from '../usercode/commit-queue.js';
import { type UploadRecord, UploadsDb } from '../usercode/uploads-db.js';
import { type ExpiryPreview, previewExpiry } from './expiry-preview.js';

export type { RetentionPolicy };

/** Options of collectGarbage. */
export interface GcOptions {
  dataDir: string;
  fqrn: string;
  /** Report what would go; change nothing. */
  dryRun?: boolean;
  retention?: Partial<RetentionPolicy>;
  /** Unix seconds (tests move the clock). */
  now?: number;
  /** Files deleted per batch (default 1,000). */
  batch?: number;
  /** Called with progress lines. */
  onProgress?: (line: string) => void;
}

/** Why a revision is kept. */
export interface KeptRevision {
  revision: number;
  root: string;
  why: string[];
}

/** What a gc did (or, with dryRun, would do). */
export interface GcReport {
  fqrn: string;
  dryRun: boolean;
  /** Uploads expired in the retention revision. */
  uploadsExpired: string[];
  /** Pinned uploads that would have expired. */
  pinnedKept: string[];
  /** Flat roots barge made that nothing named for the grace (images.graceDays), removed in the retention revision. */
  imageRootsRemoved: string[];
  /** Flat roots nothing names, kept for the jobs that may still read them: since when (unix seconds), for how many days. */
  imageRootsKept: { root: string; unreferencedSince: number; days: number }[];
  retentionRevision?: number;
  revisionsDropped: number[];
  kept: KeptRevision[];
  catalogsDeleted: number;
  objectsDeleted: number;
  /**
   * Of the files deleted, orphans: written by writers that died or ended before a revision named
   * them (a publish killed midway, a refused commit, a replaced history).
   */
  orphansDeleted: number;
  /**
   * Bytes of the files deleted. A dry run with uploads to expire counts the retention revision's
   * first history (replaced when trunk-previous goes) at the size of the current one.
   */
  bytesFreed: number;
  /** Deletions left over by a killed gc, finished now. */
  resumed: number;
  reflogPruned: number;
  seconds: number;
}

/**
 * barge gc: applies retention (idle uploads, and flat roots barge made that no image has named for
 * images.graceDays, removed in one new revision), drops the revisions out of
 * retention, and deletes exactly the catalogs and objects no kept revision reaches, as the ledger
 * (src/publish/ledger.ts) counts them: its work follows the garbage, the live part of the
 * repository is never walked.
 *
 * Safe beside publishing: the sweep holds the repository lock, so no commit interleaves; a commit
 * that reused an object gc deleted before it took the lock finds it missing and fails without
 * publishing (OBJECT_COLLECTED; the retry writes it). Killed at any point, it leaves every kept
 * revision whole: deletions are recorded as condemned in the ledger before any file goes, the
 * reflog is pruned and re-signed before them, and the next gc finishes the list.
 */
export async function collectGarbage(options: GcOptions): Promise<GcReport> {
  const started = performance.now();
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const dryRun = options.dryRun ?? false;
  const { dataDir, fqrn } = options;
  const paths = repositoryPaths(dataDir, fqrn);
  const config = await readRepositoryConfig(paths.state, fqrn);
  const retention: RetentionPolicy = { ...config.retention, ...(options.retention ?? {}) };
  const report: GcReport = {
    fqrn,
    dryRun,
    uploadsExpired: [],
    pinnedKept: [],
    imageRootsRemoved: [],
    imageRootsKept: [],
    revisionsDropped: [],
    kept: [],
    catalogsDeleted: 0,
    objectsDeleted: 0,
    orphansDeleted: 0,
    bytesFreed: 0,
    resumed: 0,
    reflogPruned: 0,
    seconds: 0,
  };

  // 1. Retention of content: idle uploads and flat roots unnamed past their grace go in one
  // revision (objects stay until the sweep).
  let idle: UploadRecord[] = [];
  if (config.uploads) {
    const db = new UploadsDb(paths.state);
    try {
      const cutoff = now - Math.round(config.uploads.expiryDays * 86400);
      report.pinnedKept = db
        .all()
        .filter((u) => u.pinned && u.lastUsedAt < cutoff)
        .map((u) => u.cid);
      idle = db.idleSince(cutoff);
      report.uploadsExpired = idle.map((u) => u.cid);
    } finally {
      db.close();
    }
  }
  // Only repositories barge put images in have the image state; gc does not make one.
  const images = existsSync(path.join(paths.state, 'images.db'));
  const grace = { now, graceDays: config.images.graceDays };
  if (!dryRun && (idle.length > 0 || images)) {
    const queue = new CommitQueue({ dataDir, fqrn, lockWaitMs: 120_000 });
    const state = images ? new ImageState(paths.state) : undefined;
    try {
      let roots: FlatRootPlan | undefined;
      const result = await queue.exclusive(async (publisher) => {
        // Planned under the lock, on the revision it edits: no image added meanwhile is missed.
        if (state) roots = await planFlatRoots(publisher, state, { ...grace, observe: true });
        return publisher.applyChanges(async (tree) => {
          for (const u of idle) if (await tree.has(u.path)) await tree.remove(u.path);
          if (roots) report.imageRootsRemoved = await removeFlatRoots(tree, roots.expired);
        });
      });
      if (idle.length > 0) {
        const db = new UploadsDb(paths.state);
        db.delete(idle.map((u) => u.cid));
        db.close();
      }
      if (state && roots) {
        state.forgetRoots([...roots.expired, ...roots.gone]);
        report.imageRootsKept = roots.kept;
      }
      if (result.published) {
        report.retentionRevision = result.revision;
        // Remembered for the sweep, also the sweep of the next gc if this one is killed first.
        const ledger = Ledger.open(paths.state);
        ledger.setMeta(RETENTION_REVISION, String(result.revision));
        ledger.close();
      }
    } finally {
      state?.close();
      await queue.close();
    }
  }
  failpoint('gc-retention');

  // 2. The sweep, under the repository lock.
  const publisher = await openWaiting(dataDir, fqrn);
  try {
    const ledger = publisher.ledger;
    checkLedger(ledger, publisher);
    const plan: PlanOptions = {
      retentionHead: ledger.meta(RETENTION_REVISION) === String(publisher.manifest.revision),
    };
    // A dry run plans against the retention revision the real run would publish first.
    if (dryRun) {
      const expiring = idle.map((u) => u.path);
      if (images) {
        const state = new ImageState(paths.state);
        try {
          const roots = await planFlatRoots(publisher, state, { ...grace, observe: false });
          report.imageRootsRemoved = roots.expired;
          report.imageRootsKept = roots.kept;
          expiring.push(...roots.expired);
        } finally {
          state.close();
        }
      }
      const preview = await previewExpiry(publisher, expiring);
      if (preview) plan.preview = preview;
    }
    let sweep = await planSweep(publisher, ledger, retention, now, report, plan);
    if (sweep.untagPrevious && !dryRun) {
      // trunk-previous names the revision before expiry, out of retention: it goes, and expired
      // content with it. The tag first, so that no tag ever names a deleted revision.
      await publisher.untag(TRUNK_PREVIOUS);
      sweep = await planSweep(publisher, ledger, retention, now, report, plan);
    }
    if (dryRun) {
      report.catalogsDeleted = sweep.catalogs.length;
      report.objectsDeleted = sweep.condemn.length - sweep.catalogs.length;
      report.orphansDeleted = sweep.orphans.length;
      report.bytesFreed = await sizeOf(publisher, sweep.condemn);
      if (plan.preview && sweep.untagPrevious) {
        // The real run replaces the retention revision's history (trunk-previous removed) and
        // collects the first one, about as large as the current history.
        report.objectsDeleted++;
        report.bytesFreed += await sizeOf(publisher, [objectPath(publisher.manifest.history ?? '', 'H')]);
      }
    } else {
      // The decision, atomically: revisions dropped, refcounts released, deletions recorded.
      applySweep(ledger, sweep, report);
      failpoint('gc-planned');
      // The reflog must not name what is going, nor what a killed gc left condemned; re-signed
      // before any file goes.
      const gone = new Set(
        (ledger.db.prepare('SELECT key FROM condemned').all() as { key: string }[]).map((r) => r.key),
      );
      const suffix = { catalog: 'C', history: 'H', certificate: 'X', metainfo: 'M' } as const;
      report.reflogPruned = await publisher.pruneReflog((hash, type) =>
        gone.has(objectPath(hash, suffix[type])),
      );
      failpoint('gc-reflog');
      const deleted = await deleteCondemned(publisher, ledger, options.batch ?? 1000);
      report.bytesFreed = deleted.bytes;
      report.resumed = Math.max(0, deleted.count - sweep.condemn.length);
    }
    report.seconds = (performance.now() - started) / 1000;
    if (!dryRun) {
      ledger.recordGcRun({
        startedAt: now,
        seconds: report.seconds,
        dryRun,
        revisionsDropped: report.revisionsDropped.length,
        catalogsDeleted: report.catalogsDeleted,
        objectsDeleted: report.objectsDeleted,
        bytesFreed: report.bytesFreed,
        uploadsExpired: report.uploadsExpired.length,
      });
    }
    return report;
  } finally {
    await publisher.close();
  }
}

/** The meta key of the ledger naming the last retention revision gc published. */
const RETENTION_REVISION = 'retention-revision';

/** How a sweep is planned beyond the retention policy. */
interface PlanOptions {
  /**
   * The current revision is a retention revision gc published: its trunk-previous (the revision
   * before expiry) is kept only if retention keeps it anyway, else expired content would outlive
   * the gc that expired it.
   */
  retentionHead: boolean;
  /** A dry run: plan as if the retention revision that these references preview were current. */
  preview?: ExpiryPreview;
}

/** What a sweep will do, decided before anything changes. */
interface Sweep {
  drop: number[];
  /** trunk-previous names a dropped revision: the tag goes before the sweep. */
  untagPrevious: boolean;
  /** Catalog keys whose refs reach 0, with their released children and objects counted. */
  catalogs: string[];
  /** refs decrements of live objects and catalogs that stay. */
  objectDecrements: Map<string, number>;
  catalogDecrements: Map<string, number>;
  /** Every key to delete (catalogs, objects, histories, certificates, orphans). */
  condemn: string[];
  /** Object rows to delete (refs reach 0). */
  deadObjects: string[];
  /** Staged rows of dead sessions to clear: orphans (to delete), and keys now referenced. */
  orphans: string[];
  unstage: string[];
}

async function planSweep(
  publisher: Publisher,
  ledger: Ledger,
  retention: RetentionPolicy,
  now: number,
  report: GcReport,
  options: PlanOptions,
): Promise<Sweep> {
  const revisions = ledger.revisions(['committed']);
  const head = publisher.manifest;
  const preview = options.preview;
  const why = new Map<number, string[]>();
  const keep = (r: number, reason: string) => why.set(r, [...(why.get(r) ?? []), reason]);
  // With a preview, the retention revision is current and takes one of the newest places.
  if (!preview) keep(head.revision, 'current revision');
  const newest = revisions.map((r) => r.revision).sort((a, b) => b - a);
  for (const r of newest.slice(0, retention.revisions - (preview ? 1 : 0)))
    keep(r, `one of the newest ${retention.revisions}`);
  // Revision timestamps run ahead of the clock when revisions come faster than one a second (each
  // is its predecessor's + 1): zero days must keep none, not those of the last few seconds.
  const young = now - retention.days * 86400;
  for (const r of revisions)
    if (retention.days > 0 && r.timestamp >= young) keep(r.revision, `younger than ${retention.days} days`);
  // Named tags (and trunk/trunk-previous) keep their root catalogs; after expiry, trunk-previous
  // only if the revision is kept anyway (see PlanOptions).
  let previous: number | undefined = preview ? head.revision : undefined;
  if (head.history) {
    const h = HistoryDb.open(
      await decompress(await publisher.store.get(objectPath(head.history, 'H')), 'history'),
    );
    try {
      const byRoot = new Map(revisions.map((r) => [r.root, r.revision]));
      for (const t of h.tags()) {
        const r = byRoot.get(t.hash);
        // The retention revision a preview stands for moves both trunk tags.
        if (r === undefined || (preview && (t.name === TRUNK || t.name === TRUNK_PREVIOUS))) continue;
        if (t.name === TRUNK_PREVIOUS && options.retentionHead) previous = r;
        else keep(r, `tag ${t.name}`);
      }
    } finally {
      h.close();
    }
  }
  if (previous !== undefined && why.has(previous)) keep(previous, `tag ${TRUNK_PREVIOUS}`);
  const untagPrevious = previous !== undefined && !why.has(previous);
  report.kept = revisions
    .filter((r) => why.has(r.revision))
    .map((r) => ({ revision: r.revision, root: r.root, why: why.get(r.revision) ?? [] }));
  const drop = revisions.filter((r) => !why.has(r.revision)).map((r) => r.revision);
  report.revisionsDropped = drop;

  // Simulate the refcounts: roots of dropped revisions lose one reference, dead catalogs release
  // what they name. Only the garbage is read.
  const catalogDecrements = new Map<string, number>();
  const objectDecrements = new Map<string, number>();
  const refsOf = ledger.db.prepare('SELECT refs FROM catalogs WHERE key = ?');
  const objRefsOf = ledger.db.prepare('SELECT refs FROM objects WHERE key = ?');
  const catalogRefs = (key: string) =>
    ((refsOf.get(key) as { refs: number } | undefined)?.refs ?? 0) +
    (preview?.catalogs.get(key) ?? 0) -
    (catalogDecrements.get(key) ?? 0);
  const queue: string[] = (
    ledger.db.prepare('SELECT key FROM catalogs WHERE refs <= 0').all() as { key: string }[]
  ).map((r) => r.key);
  const byRevision = new Map(revisions.map((r) => [r.revision, r]));
  for (const r of drop) {
    const key = objectPath((byRevision.get(r) as { root: string }).root, 'C');
    catalogDecrements.set(key, (catalogDecrements.get(key) ?? 0) + 1);
    if (catalogRefs(key) <= 0) queue.push(key);
  }
  const dead = new Set<string>();
  const deadObjects: string[] = [];
  while (queue.length > 0) {
    const key = queue.pop() as string;
    if (dead.has(key) || catalogRefs(key) > 0) continue;
    dead.add(key);
    let catalog: Catalog | undefined;
    try {
      const bytes = await publisher.store.get(key);
      catalog = Catalog.open(await decompress(bytes, key), '', key);
    } catch {
      // Gone already (a killed gc deleted it): what it named was released then.
      continue;
    }
    try {
      for (const c of new Set(catalog.contentHashes().map((h) => objectPath(h.hash, h.suffix)))) {
        const left =
          ((objRefsOf.get(c) as { refs: number } | undefined)?.refs ?? 0) +
          (preview?.objects.get(c) ?? 0) -
          (objectDecrements.get(c) ?? 0) -
          1;
        objectDecrements.set(c, (objectDecrements.get(c) ?? 0) + 1);
        if (left === 0) deadObjects.push(c);
      }
      for (const n of catalog.nestedCatalogs()) {
        const child = objectPath(n.hash, 'C');
        catalogDecrements.set(child, (catalogDecrements.get(child) ?? 0) + 1);
        if (catalogRefs(child) <= 0) queue.push(child);
      }
    } finally {
      catalog.close();
    }
  }
  // Histories and certificates only dropped revisions named.
  const keptRevisions = ledger.revisions(['pending', 'committed']).filter((r) => !drop.includes(r.revision));
  const stillNamed = new Set(keptRevisions.flatMap((r) => [r.history, r.certificate]));
  stillNamed.add(objectPath(head.certificate, 'X'));
  // (With a preview, the current history goes with its revision when that is dropped.)
  if (head.history && !(preview && drop.includes(head.revision)))
    stillNamed.add(objectPath(head.history, 'H'));
  const metaKeys = new Set<string>();
  for (const r of drop) {
    const row = byRevision.get(r);
    if (row) for (const k of [row.history, row.certificate]) if (k) metaKeys.add(k);
  }
  const metas = [...metaKeys].filter((k) => !stillNamed.has(k));
  // Orphans: objects staged by writers that are gone (Publisher.open ended the sessions of dead
  // ones), referenced by nothing. A key a live session staged stays: its writer may be about to
  // commit it. Rows of keys referenced since are cleared: their refcounts stand for them.
  const staged = (
    ledger.db
      .prepare(
        `SELECT DISTINCT s.key FROM staged s LEFT JOIN sessions x ON x.id = s.session
         WHERE x.id IS NULL AND s.key NOT IN (SELECT key FROM staged WHERE session IN (SELECT id FROM sessions))`,
      )
      .all() as { key: string }[]
  ).map((r) => r.key);
  const named = (k: string) => ledger.isLive(k) || ledger.hasCatalog(k) || stillNamed.has(k);
  const orphans = staged.filter((k) => !named(k));
  const unstage = staged.filter((k) => named(k) && !stillNamed.has(k));
  const condemn = [...dead, ...deadObjects, ...metas.filter((k) => !dead.has(k)), ...orphans];
  return {
    drop,
    untagPrevious,
    catalogs: [...dead],
    objectDecrements,
    catalogDecrements,
    condemn: [...new Set(condemn)],
    deadObjects,
    orphans,
    unstage,
  };
}

/** Applies a planned sweep to the ledger in one transaction. */
function applySweep(ledger: Ledger, sweep: Sweep, report: GcReport): void {
  const db = ledger.db;
  const decObject = db.prepare('UPDATE objects SET refs = refs - ? WHERE key = ?');
  const delObject = db.prepare('DELETE FROM objects WHERE key = ? AND refs <= 0');
  const decCatalog = db.prepare('UPDATE catalogs SET refs = refs - ? WHERE key = ?');
  const delCatalog = db.prepare('DELETE FROM catalogs WHERE key = ?');
  const markDropped = db.prepare("UPDATE revisions SET state = 'dropped' WHERE revision = ?");
  const condemn = db.prepare('INSERT OR IGNORE INTO condemned (key, bytes) VALUES (?, 0)');
  const unstage = db.prepare('DELETE FROM staged WHERE key = ?');
  db.transaction(() => {
    for (const r of sweep.drop) markDropped.run(r);
    for (const [k, n] of sweep.catalogDecrements) decCatalog.run(n, k);
    for (const [k, n] of sweep.objectDecrements) decObject.run(n, k);
    for (const k of sweep.deadObjects) delObject.run(k);
    for (const k of sweep.catalogs) delCatalog.run(k);
    for (const k of [...sweep.orphans, ...sweep.unstage]) unstage.run(k);
    for (const k of sweep.condemn) condemn.run(k);
  })();
  report.orphansDeleted = sweep.orphans.length;
  report.catalogsDeleted = sweep.catalogs.length;
  report.objectsDeleted = sweep.condemn.length - sweep.catalogs.length;
}

/**
 * Deletes every condemned file, in batches, each batch's rows cleared after its files are gone.
 * A key a commit took back since (live again) is spared. Also finishes what a killed gc left.
 */
async function deleteCondemned(
  publisher: Publisher,
  ledger: Ledger,
  batch: number,
): Promise<{ count: number; bytes: number }> {
  const db = ledger.db;
  const clear = db.prepare('DELETE FROM condemned WHERE key = ?');
  // Root catalogs of dropped revisions first, other catalogs next, objects last: killed midway, no
  // revision a reader can still reach (a previous_revision, the reflog) lacks an object; what is
  // left is only reachable from catalogs that are gone. Read once: the list is the garbage.
  const rows = db
    .prepare(
      `SELECT key, key IN (SELECT 'data/' || substr(root, 1, 2) || '/' || substr(root, 3) || 'C'
                           FROM revisions WHERE state = 'dropped') AS root
       FROM condemned`,
    )
    .all() as { key: string; root: number }[];
  const rank = (r: { key: string; root: number }) => (r.root ? 0 : r.key.endsWith('C') ? 1 : 2);
  const ordered = rows.sort((a, b) => rank(a) - rank(b)).map((r) => r.key);
  let count = 0;
  let bytes = 0;
  for (let start = 0; start < ordered.length; start += batch) {
    const keys = ordered.slice(start, start + batch);
    // A key a commit took back (live again) stays.
    const doomed = keys.filter((key) => !ledger.isLive(key) && !ledger.hasCatalog(key));
    for (let i = 0; i < doomed.length; i += 100) {
      const part = doomed.slice(i, i + 100);
      for (const key of part) bytes += (await publisher.store.size(key)) ?? 0;
      await publisher.store.delete(part);
      count += part.length;
      failpoint('gc-delete');
    }
    db.transaction(() => {
      for (const key of keys) clear.run(key);
    })();
    failpoint('gc-batch');
  }
  return { count, bytes };
}

async function sizeOf(publisher: Publisher, keys: readonly string[]): Promise<number> {
  let total = 0;
  for (const k of keys) total += (await publisher.store.size(k)) ?? 0;
  return total;
}

/**
 * A ledger gc may trust: complete since the first revision (or rebuilt), and naming the served
 * revision as its newest. Anything else is refused, never guessed around.
 */
function checkLedger(ledger: Ledger, publisher: Publisher): void {
  const m = publisher.manifest;
  if (!ledger.complete) {
    throw new BargeError(
      'LEDGER_INCOMPLETE',
      `the gc ledger of ${publisher.paths.fqrn} does not cover its whole history`,
      {
        hint: `rebuild it from the repository: barge gc ${publisher.paths.fqrn} --rebuild-ledger`,
      },
    );
  }
  // A pending revision above the served one whose writer died was dropped when this gc opened.
  const head = ledger.revisions().at(-1);
  if (!head || head.revision !== m.revision || head.root !== m.rootHash || head.state !== 'committed') {
    throw new BargeError(
      'LEDGER_MISMATCH',
      `the gc ledger says revision ${head?.revision ?? 'none'} (${head?.root ?? '-'}), the repository serves ${m.revision} (${m.rootHash})`,
      {
        hint: `something published without the ledger (cvmfs_server, an older barge, a restored backup): barge gc ${publisher.paths.fqrn} --rebuild-ledger`,
      },
    );
  }
}

/** Opens the repository, waiting for publishers that hold it (a gc waits its turn). */
async function openWaiting(dataDir: string, fqrn: string): Promise<Publisher> {
  const deadline = Date.now() + 120_000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      return await Publisher.open(dataDir, fqrn, 'gc', { keepStaging: true });
    } catch (err) {
      if (!(err instanceof BargeError && err.code === 'REPO_LOCKED') || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
