import { performance } from 'node:perf_hooks';
import { Catalog } from '../catalog/index.js';
import { BargeError, isBargeError } from '../error/index.js';
import { parseManifest } from '../manifest/index.js';
import { decompress, objectPath } from '../object/index.js';
import { failpoint, RepositoryLock } from '../publish/index.js';
import { repositoryPaths } from '../repository/index.js';
import { FsObjectStore, type ObjectStore } from '../storage/index.js';
import { type KeptRoot, type KeptSet, keptRoots } from './kept-roots.js';
import { ReplicaGcLedger, type ReplicaSweep } from './replica-gc-ledger.js';
import { ReplicaLedger } from './replica-ledger.js';
import { isReplica } from './replica-marker.js';

/** Options of collectReplicaGarbage. */
export interface ReplicaGcOptions {
  dataDir: string;
  fqrn: string;
  /** Report what would go; change nothing. */
  dryRun?: boolean;
  /** Also keep the roots the replica served as HEAD in its last K snapshots (default 2). */
  keepSnapshots?: number;
  /** Files deleted per ledger batch (default 1,000). */
  batch?: number;
  /** How long to wait for a running `barge replicate` to release the lock (default 120 s). */
  lockWaitMs?: number;
}

/** What a replica gc did (or, with dryRun, would do). */
export interface ReplicaGcReport {
  fqrn: string;
  replica: true;
  dryRun: boolean;
  rootsKept: KeptRoot[];
  catalogsDeleted: number;
  /** Content objects, and certificates, histories and meta-info objects the source dropped. */
  objectsDeleted: number;
  bytesFreed: number;
  /** Deletions a killed gc left, finished now. */
  resumed: number;
  seconds: number;
}

/**
 * The gc of a stratum-1 replica: it follows the source. Kept are the roots the source still keeps
 * (kept-roots.ts) and the replica's recent HEADs; the catalog graph below them is marked in the
 * ledger (one row per catalog, no file read), and only the catalogs no kept root reaches are read,
 * to release their objects' refs: objects at 0 go. So the work follows the catalogs and the
 * garbage, never the objects of the live tree.
 *
 * Under the replica's lock (the one `barge replicate` takes), so no snapshot interleaves. Killed
 * at any point, the served snapshot stays whole (nothing a kept root reaches is condemned) and the
 * next gc finishes the list: the decision is one ledger transaction recording every file to
 * delete as condemned, and condemned rows are cleared only after their files are gone.
 */
export async function collectReplicaGarbage(options: ReplicaGcOptions): Promise<ReplicaGcReport> {
  const started = performance.now();
  const paths = repositoryPaths(options.dataDir, options.fqrn);
  if (!isReplica(paths.state)) {
    throw new BargeError(
      'REPO_NOT_FOUND',
      `${options.fqrn} is not a stratum-1 replica in this data directory`,
      {
        hint: `take a snapshot first: barge replicate <source-url> ${options.fqrn} --key <pub>`,
      },
    );
  }
  const dryRun = options.dryRun ?? false;
  const lock = await acquireWaiting(paths.state, options.lockWaitMs ?? 120_000);
  const ledger = ReplicaLedger.open(paths.state);
  try {
    const gcLedger = new ReplicaGcLedger(ledger);
    const store = new FsObjectStore(paths.served);
    const manifestBytes = await store.get('.cvmfspublished').catch((cause) => {
      throw new BargeError('REPO_NOT_FOUND', `the replica of ${options.fqrn} serves no snapshot yet`, {
        cause,
        hint: `finish a snapshot first: barge replicate <source-url> ${options.fqrn} --key <pub>`,
      });
    });
    const kept = await keptRoots(store, parseManifest(manifestBytes), gcLedger, options.keepSnapshots ?? 2);
    const sweep = await planSweep(store, gcLedger, kept);
    const leftover = gcLedger.condemned();
    const report: ReplicaGcReport = {
      fqrn: options.fqrn,
      replica: true,
      dryRun,
      rootsKept: kept.roots,
      catalogsDeleted: sweep.catalogs.length,
      objectsDeleted: sweep.deadObjects.length + sweep.deadExtras.length,
      bytesFreed: 0,
      resumed: 0,
      seconds: 0,
    };
    if (dryRun) {
      const keys = new Set([...leftover, ...sweep.catalogs, ...sweep.deadObjects, ...sweep.deadExtras]);
      for (const k of keys) report.bytesFreed += (await store.size(k)) ?? 0;
      report.resumed = leftover.length;
    } else {
      gcLedger.condemn(sweep);
      failpoint('replica-gc-planned');
      const deleted = await deleteCondemned(store, gcLedger, options.batch ?? 1000);
      report.bytesFreed = deleted.bytes;
      report.resumed = leftover.length;
    }
    report.seconds = (performance.now() - started) / 1000;
    return report;
  } finally {
    ledger.close();
    await lock.release();
  }
}

/**
 * Marks the catalogs the kept roots reach (through the ledger's rows; through the file for a
 * catalog the ledger has not recorded yet, whose objects are then spared), then releases what the
 * unmarked catalogs name.
 */
async function planSweep(
  store: ObjectStore,
  gcLedger: ReplicaGcLedger,
  kept: KeptSet,
): Promise<ReplicaSweep> {
  const live = new Set<string>();
  const spared = new Set<string>();
  const stack = kept.roots.map((r) => objectPath(r.hash, 'C'));
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (live.has(key)) continue;
    live.add(key);
    const children = gcLedger.children(key);
    if (children) {
      stack.push(...children);
      continue;
    }
    // Not recorded complete: a root the source no longer had whole (nothing of it stored), or a
    // catalog whose completion a killed snapshot or a power cut lost. Its file, if present, counts.
    const content = await readCatalog(store, key);
    if (!content) continue;
    for (const k of content.objects) spared.add(k);
    stack.push(...content.children);
  }
  const catalogs = gcLedger.catalogKeys().filter((k) => !live.has(k));
  const objectDecrements = new Map<string, number>();
  for (const key of catalogs) {
    // A dead catalog whose file is gone (lost by the disk) releases nothing: its objects stay.
    const content = await readCatalog(store, key);
    for (const k of content?.objects ?? []) objectDecrements.set(k, (objectDecrements.get(k) ?? 0) + 1);
  }
  const deadObjects = [...objectDecrements]
    .filter(([k, n]) => gcLedger.refs(k) - n <= 0 && !spared.has(k))
    .map(([k]) => k);
  const deadExtras = gcLedger.extras().filter((k) => !kept.extras.has(k));
  return { catalogs, objectDecrements, deadObjects, deadExtras };
}

/** The distinct content keys and nested catalog keys of a stored catalog; undefined if absent. */
async function readCatalog(
  store: ObjectStore,
  key: string,
): Promise<{ objects: Set<string>; children: string[] } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.get(key);
  } catch (err) {
    if (isBargeError(err, 'OBJECT_NOT_FOUND')) return undefined;
    throw err;
  }
  const catalog = Catalog.open(await decompress(bytes, key), '', key);
  try {
    return {
      objects: new Set(catalog.contentHashes().map((c) => objectPath(c.hash, c.suffix))),
      children: catalog.nestedCatalogs().map((n) => objectPath(n.hash, 'C')),
    };
  } finally {
    catalog.close();
  }
}

/**
 * Deletes the condemned files in batches, each batch's rows cleared after its files are gone; a key
 * a snapshot took back since (held again) is spared. Also finishes what a killed gc left.
 */
async function deleteCondemned(
  store: ObjectStore,
  gcLedger: ReplicaGcLedger,
  batch: number,
): Promise<{ count: number; bytes: number }> {
  const ordered = gcLedger.condemned();
  let count = 0;
  let bytes = 0;
  for (let start = 0; start < ordered.length; start += batch) {
    const keys = ordered.slice(start, start + batch);
    const doomed = keys.filter((k) => !gcLedger.isHeld(k));
    for (let i = 0; i < doomed.length; i += 100) {
      const part = doomed.slice(i, i + 100);
      for (const key of part) bytes += (await store.size(key)) ?? 0;
      await store.delete(part);
      count += part.length;
      failpoint('replica-gc-delete');
    }
    gcLedger.clearCondemned(keys);
    failpoint('replica-gc-batch');
  }
  return { count, bytes };
}

/** Takes the replica's lock, waiting while a snapshot (or another gc) holds it. */
async function acquireWaiting(stateDir: string, waitMs: number): Promise<RepositoryLock> {
  const deadline = Date.now() + waitMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      return await RepositoryLock.acquire(stateDir, 'barge gc (replica)');
    } catch (err) {
      if (!isBargeError(err, 'REPO_LOCKED') || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
