import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BargeError, isBargeError } from '../error/index.js';
import { HistoryDb, type ReferenceType, ReflogDb } from '../history/index.js';
import { type Manifest, parseManifest, parseWhitelist, verifyTrustChain } from '../manifest/index.js';
import { decompress, type HashText, type ObjectSuffix, objectPath } from '../object/index.js';
import { failpoint, RepositoryLock } from '../publish/index.js';
import {
  type HttpSourceOptions,
  type OpenedSource,
  openSource,
  type RepositoryPaths,
  repositoryPaths,
} from '../repository/index.js';
import { FsObjectStore } from '../storage/index.js';
import { ReplicaLedger, type SeenRoot } from './replica-ledger.js';
import { writeReplicaMarker } from './replica-marker.js';
import { writeSnapshotStamp } from './snapshot-stamp.js';
import { type CopyStats, SubtreeCopier } from './subtree-copier.js';
import { TaskLimit } from './task-limit.js';

/** Options of replicate. */
export interface ReplicateOptions {
  /** The source: `http://host/cvmfs/<fqrn>` (a stratum 0 or another stratum 1) or a served directory. */
  source: string;
  fqrn: string;
  /** Master public keys (PEM) the whitelist must be signed with. */
  publicKeysPem: string[];
  /** barge data directory; the replica is served from `<data>/repos/<fqrn>`. */
  dataDir: string;
  /** Requests in flight at most (default 16). */
  parallel?: number;
  /** HTTP settings of the source (proxy, timeouts, retries). */
  http?: HttpSourceOptions;
  /** Flush objects before the manifest swap and before ledger checkpoints (default true). */
  durable?: boolean;
  /** How often completed catalogs are made durable and recorded during a long snapshot (default 10 s). */
  checkpointMs?: number;
  /** The time for the whitelist's expiry check (default now). */
  now?: Date;
  /** Progress notes (skipped revisions). */
  log?: (line: string) => void;
}

/** What a snapshot did. */
export interface SnapshotResult {
  fqrn: string;
  revision: number;
  /** The revision the replica served before, if any. */
  previousRevision: number | undefined;
  /** Whether the manifest changed. */
  changed: boolean;
  stats: CopyStats;
  /** Every root catalog the source offered, and whether the replica now holds its subtree. */
  roots: SeenRoot[];
  seconds: number;
}

const STATE_CONFIG = 'repository.json';

/**
 * One stratum-1 snapshot of a CVMFS repository (barge's or cvmfs_server's) into
 * `<data>/repos/<fqrn>`, as `cvmfs_server snapshot` makes one: the manifest is trusted only
 * through the whitelist and certificate and the given master key; then every root catalog the
 * source still offers (HEAD, named tags, the reflog's roots, the chain of previous revisions) is
 * copied with its subtree, fetching only what the replica lacks, every object hash-checked; then
 * the whitelist, reflog and finally the manifest are swapped in, so clients of the replica see
 * the old revision or the new one, never a part. A run that fails or is killed leaves the
 * previous snapshot served, and the next run resumes from the ledger.
 */
export async function replicate(options: ReplicateOptions): Promise<SnapshotResult> {
  const paths = repositoryPaths(options.dataDir, options.fqrn);
  if (existsSync(path.join(paths.state, STATE_CONFIG))) {
    throw new BargeError('REPO_EXISTS', `${options.fqrn} is published in this data directory`, {
      hint: 'a replica cannot share its data directory entry with the stratum 0; use another --data',
    });
  }
  const lock = await RepositoryLock.acquire(paths.state, 'barge replicate');
  const started = Date.now();
  let ledger: ReplicaLedger | undefined;
  let source: OpenedSource | undefined;
  let copier: SubtreeCopier | undefined;
  let revision = 0;
  try {
    await writeReplicaMarker(paths.state, options.fqrn, options.source);
    ledger = ReplicaLedger.open(paths.state);
    const parallel = options.parallel ?? 16;
    source = await openSource(options.source, { maxSockets: parallel, ...options.http });
    const store = new FsObjectStore(paths.served, { durable: options.durable ?? true });
    await store.initLayout();
    await store.clearStaging();
    // A first snapshot (or one resuming it) fetches nearly everything: one listing of what an
    // interrupted run stored replaces a stat per object. Later ones stat only what is new.
    const present = ledger.isEmpty() ? await listStored(paths.served) : undefined;
    copier = new SubtreeCopier(source, store, ledger, new TaskLimit(parallel), present);
    const result = await snapshot({ options, paths, source, store, ledger, copier, started });
    revision = result.revision;
    ledger.recordSnapshot({
      startedAt: Math.floor(started / 1000),
      seconds: result.seconds,
      revision,
      status: 'done',
      objectsFetched: result.stats.objectsFetched,
      bytesFetched: result.stats.bytesFetched,
      catalogsFetched: result.stats.catalogsFetched,
    });
    return result;
  } catch (err) {
    ledger?.recordSnapshot({
      startedAt: Math.floor(started / 1000),
      seconds: (Date.now() - started) / 1000,
      revision,
      status: 'failed',
      objectsFetched: copier?.stats.objectsFetched ?? 0,
      bytesFetched: copier?.stats.bytesFetched ?? 0,
      catalogsFetched: copier?.stats.catalogsFetched ?? 0,
      error: (err as Error).message,
    });
    throw err;
  } finally {
    source?.close();
    ledger?.close();
    await lock.release();
  }
}

interface SnapshotContext {
  options: ReplicateOptions;
  paths: RepositoryPaths;
  source: OpenedSource;
  store: FsObjectStore;
  ledger: ReplicaLedger;
  copier: SubtreeCopier;
  started: number;
}

async function snapshot(ctx: SnapshotContext): Promise<SnapshotResult> {
  const { options, source, store, copier } = ctx;
  const localBytes = await store.get('.cvmfspublished').catch(() => undefined);
  const local = localBytes ? parseManifest(localBytes) : undefined;

  // 1. The trust chain, as the client checks it; never older than what the replica serves.
  const manifestBytes = await source.fetch('.cvmfspublished').catch((err) => {
    throw new BargeError('REPO_NOT_FOUND', `no repository at ${source.location}: ${(err as Error).message}`, {
      cause: err,
      hint: 'give the repository base URL (http://host/cvmfs/<fqrn>) or its served directory',
    });
  });
  const claimed = parseManifest(manifestBytes);
  const whitelistBytes = await source.fetch('.cvmfswhitelist');
  const certificateKey = objectPath(claimed.certificate, 'X');
  const certificateObject = await source.fetch(certificateKey);
  const manifest = verifyTrustChain({
    manifestBytes,
    whitelistBytes,
    certificateObject,
    publicKeysPem: options.publicKeysPem,
    fqrn: options.fqrn,
    now: options.now ?? new Date(),
    ...(local ? { minimumTimestamp: local.timestamp } : {}),
  });
  const pkcs7 = parseWhitelist(whitelistBytes).verifyPkcs7
    ? await source.fetch('.cvmfswhitelist.pkcs7')
    : undefined;
  await store.put('.cvmfs_is_snapshotting', Buffer.from(`${new Date().toISOString()}\n`));
  try {
    // 2. The manifest's own objects, then every root catalog on offer with its subtree.
    await copier.storeVerified(certificateKey, certificateObject);
    if (manifest.metainfo) await copier.object(manifest.metainfo, 'M');
    const reflogBytes = await source.fetchOptional('.cvmfsreflog');
    const { roots, extras } = await rootsOnOffer(manifest, store, copier, reflogBytes, options.log);
    const extrasHeld = [certificateKey];
    if (manifest.metainfo) extrasHeld.push(objectPath(manifest.metainfo, 'M'));
    if (manifest.history) extrasHeld.push(objectPath(manifest.history, 'H'));
    const checkpointMs = ctx.options.checkpointMs ?? 10_000;
    const seen = await copyRoots(copier, manifest, roots, extras, extrasHeld, checkpointMs);
    await copier.checkpoint();

    // 3. The swap: whitelist, reflog, then (after a flush) the manifest last.
    await store.put('.cvmfswhitelist', whitelistBytes);
    if (pkcs7) await store.put('.cvmfswhitelist.pkcs7', pkcs7);
    if (reflogBytes) await store.put('.cvmfsreflog', reflogBytes);
    await store.flush();
    failpoint('replicate-manifest');
    await store.put('.cvmfspublished', manifestBytes);
    await writeSnapshotStamp(store, new Date());
    await keepPublicKey(ctx.paths, options.publicKeysPem);
    // Durable since the flush above; the replica's gc deletes those the source stops naming.
    ctx.ledger.holdExtras(extrasHeld);
    ctx.ledger.sawRoots(seen);
    for (const r of seen) {
      if (!r.held)
        options.log?.(
          `revision ${r.revision || '?'} (${r.reason}) is incomplete at the source: not replicated`,
        );
    }
    return {
      fqrn: options.fqrn,
      revision: manifest.revision,
      previousRevision: local?.revision,
      changed: !localBytes?.equals(manifestBytes),
      stats: { ...copier.stats },
      roots: seen,
      seconds: (Date.now() - ctx.started) / 1000,
    };
  } finally {
    await store.delete(['.cvmfs_is_snapshotting']).catch(() => {});
  }
}

/** A root catalog offered by the source, and why it is kept there. */
interface OfferedRoot {
  hash: HashText;
  reason: string;
  revision: number;
}

/** An older certificate, history or meta-info object the reflog names. */
interface ExtraObject {
  hash: HashText;
  suffix: ObjectSuffix;
}

const SUFFIX_OF: Record<Exclude<ReferenceType, 'catalog'>, ObjectSuffix> = {
  certificate: 'X',
  history: 'H',
  metainfo: 'M',
};

/**
 * The root catalogs besides HEAD that the replica keeps, like the source: named tags (clients
 * pin them with CVMFS_REPOSITORY_TAG) and the reflog's roots (what the source still holds), and
 * the older certificate, history and meta-info objects the reflog names. The current history
 * object is copied here; the reflog is only read (it is swapped in with the manifest).
 */
async function rootsOnOffer(
  manifest: Manifest,
  store: FsObjectStore,
  copier: SubtreeCopier,
  reflogBytes: Buffer | undefined,
  log: ((line: string) => void) | undefined,
): Promise<{ roots: OfferedRoot[]; extras: ExtraObject[] }> {
  const roots: OfferedRoot[] = [];
  const extras: ExtraObject[] = [];
  if (manifest.history) {
    await copier.object(manifest.history, 'H');
    const key = objectPath(manifest.history, 'H');
    const history = HistoryDb.open(await decompress(await store.get(key), key));
    try {
      for (const t of history.tags())
        roots.push({ hash: t.hash, reason: `tag:${t.name}`, revision: t.revision });
    } finally {
      history.close();
    }
  }
  if (reflogBytes) {
    try {
      const reflog = ReflogDb.open(reflogBytes);
      try {
        for (const r of reflog.list()) {
          if (r.type === 'catalog') roots.push({ hash: r.hash, reason: 'reflog', revision: 0 });
          else extras.push({ hash: r.hash, suffix: SUFFIX_OF[r.type] });
        }
      } finally {
        reflog.close();
      }
    } catch (err) {
      log?.(`the source's reflog is unreadable (${(err as Error).message}): its roots are not followed`);
    }
  }
  return { roots, extras };
}

/**
 * Copies HEAD (required: any failure fails the snapshot) and the other roots (a root the source
 * no longer has whole is noted and left out, as a client could not use it either), following
 * each root's previous revisions while the source still has them. Completions are checkpointed
 * every `checkpointMs`. The first fatal error stops every request not yet started, and is thrown
 * once the running ones have settled. The keys of the extras copied are added to `extrasHeld`.
 */
async function copyRoots(
  copier: SubtreeCopier,
  manifest: Manifest,
  offered: OfferedRoot[],
  extras: ExtraObject[],
  extrasHeld: string[],
  checkpointMs: number,
): Promise<SeenRoot[]> {
  const seen: SeenRoot[] = [];
  const walked = new Set<HashText>();
  const tasks: Promise<void>[] = [];
  let fatal: unknown;
  const visit = (root: OfferedRoot, required: boolean) => {
    const entry: SeenRoot = { hash: root.hash, reason: root.reason, revision: root.revision, held: false };
    seen.push(entry);
    if (walked.has(root.hash)) {
      // Walked for another reason: the same outcome.
      tasks.push(
        copier.catalog(root.hash, '').then(
          (facts) => {
            entry.held = true;
            if (facts) entry.revision = facts.revision;
          },
          () => {},
        ),
      );
      return;
    }
    walked.add(root.hash);
    const task = copier.catalog(root.hash, '').then(
      (facts) => {
        entry.held = true;
        if (facts) {
          entry.revision = facts.revision;
          const previous = facts.previousRevision;
          if (previous && !walked.has(previous)) {
            visit({ hash: previous, reason: 'previous', revision: facts.revision - 1 }, false);
          }
        }
      },
      (err) => {
        if (required || !isBargeError(err, 'OBJECT_NOT_FOUND')) {
          fatal ??= err;
          copier.stop(err);
        }
      },
    );
    tasks.push(task);
  };
  const timer = setInterval(() => copier.checkpoint().catch(() => {}), checkpointMs);
  try {
    visit({ hash: manifest.rootHash, reason: 'head', revision: manifest.revision }, true);
    for (const r of offered) visit(r, false);
    for (const x of extras) {
      // Gone at the source (a gc) is fine: clients only ever read the current ones.
      tasks.push(
        copier.object(x.hash, x.suffix).then(
          () => {
            extrasHeld.push(objectPath(x.hash, x.suffix));
          },
          (err) => {
            if (!isBargeError(err, 'OBJECT_NOT_FOUND')) {
              fatal ??= err;
              copier.stop(err);
            }
          },
        ),
      );
    }
    for (let i = 0; i < tasks.length; i++) await tasks[i];
    await copier.idle();
  } finally {
    clearInterval(timer);
  }
  if (fatal !== undefined) throw fatal;
  return seen;
}

/** The keys under `<served>/data/XX/` (staging left out), by one readdir per directory. */
async function listStored(served: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for (let i = 0; i < 256; i++) {
    const dir = i.toString(16).padStart(2, '0');
    for (const name of await fsp.readdir(path.join(served, 'data', dir)).catch(() => [] as string[])) {
      keys.add(`data/${dir}/${name}`);
    }
  }
  return keys;
}

/**
 * Keeps the master public key that verified the source at `<data>/keys/<fqrn>.pub`, where barge
 * looks for a local repository's key, so `barge info|fsck|pull <fqrn>` work on the replica
 * without --key. Only a single key: a file of several would not load as one.
 */
async function keepPublicKey(paths: RepositoryPaths, publicKeysPem: string[]): Promise<void> {
  if (publicKeysPem.length !== 1) return;
  const file = path.join(paths.keys, `${paths.fqrn}.pub`);
  const pem = publicKeysPem[0] as string;
  if ((await fsp.readFile(file, 'utf8').catch(() => undefined)) === pem) return;
  await fsp.mkdir(paths.keys, { recursive: true });
  await fsp.writeFile(`${file}.tmp`, pem);
  await fsp.rename(`${file}.tmp`, file);
}
