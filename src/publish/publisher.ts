import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Catalog, S_IFMT, S_IFREG } from '../catalog/index.js';
import { BargeError, errnoCode } from '../error/index.js';
import { HistoryDb, type ReferenceType, ReflogDb } from '../history/index.js';
import {
  type Manifest,
  parseManifest,
  type RepositoryKeys,
  readRepositoryKeys,
  signManifest,
} from '../manifest/index.js';
import { decompress, type HashText, hashAlgorithm, hashBytes, objectPath } from '../object/index.js';
import { treeFingerprint as fingerprintTree } from '../posix/index.js';
import { type RepositoryPaths, repositoryPaths } from '../repository/data-dir.js';
import { FsObjectStore, ioError, missingKeys, type ObjectStore, openObjectStore } from '../storage/index.js';
import type { CatalogLoader } from './catalog-node.js';
import { commitCatalogs, type WrittenCatalogRefs } from './commit-catalogs.js';
import { failpoint } from './failpoint.js';
import { IngestPool } from './ingest-pool.js';
import { Ledger, type LedgerCatalog } from './ledger.js';
import { ObjectWriter, sourceError } from './object-writer.js';
import {
  type DirectoryPublishStats,
  type PublishDirectoryOptions,
  publishDirectory,
  type StatRecords,
} from './publish-directory.js';
import { PublishState } from './publish-state.js';
import { type RepositoryConfig, readRepositoryConfig } from './repository-config.js';
import { processAlive, RepositoryLock } from './repository-lock.js';
import { readScannedXattrs, scanDirectory, sourceDirectory } from './scan-directory.js';
import { StagingSession } from './staging-session.js';
import { validatePath, WorkingTree } from './working-tree.js';

/** What a publish produced. */
export interface PublishResult {
  /** False when the change was empty: nothing was written, the revision stays. */
  published: boolean;
  revision: number;
  rootHash: HashText;
  catalogsWritten: number;
  objectsWritten: number;
  bytesWritten: number;
  directory?: DirectoryPublishStats;
}

const PENDING_REFLOG = 'reflog.pending';
/** Entries changed within this of a fingerprint could change again without moving any stat field (racy git). */
const RACY_WINDOW_NS = 2_000_000_000n;

/**
 * The one writer of a repository. Holds the repository lock from open to close; every change
 * becomes one new revision through the same ordered steps: objects, catalogs bottom-up, history,
 * flush, manifest (atomic rename), reflog. A crash anywhere leaves the previous manifest served
 * and everything it references intact; open() finishes or discards what a crashed writer left.
 */
export class Publisher {
  private closed = false;
  /** This writer's session in the ledger: what it stores is staged there first. */
  private readonly staging: StagingSession;

  private constructor(
    readonly paths: RepositoryPaths,
    readonly config: RepositoryConfig,
    readonly store: ObjectStore,
    readonly keys: RepositoryKeys,
    private readonly lock: RepositoryLock,
    readonly state: PublishState,
    private current: Manifest,
    /** The gc ledger: what each revision and catalog references (src/publish/ledger.ts). */
    readonly ledger: Ledger = Ledger.open(paths.state),
    /** Whether close() closes the ledger (not when the caller lent it). */
    private readonly ownsLedger = true,
  ) {
    reconcileLedger(this.ledger, current);
    this.staging = new StagingSession(this.ledger);
  }

  /**
   * Opens repository `fqrn` of `dataDir` for writing; REPO_LOCKED if another writer is active.
   * Leftovers of a crashed writer in `data/txn` are removed, unless `keepStaging` says that this
   * process stages objects there outside the lock (the upload service does, between batches).
   * A writer that opens the repository again and again (the upload service, once per batch) lends
   * its own open `ledger`: opening the ledger costs its statements, and closing the last
   * connection checkpoints the whole WAL with an fsync (a fifth of a small upload's time).
   */
  static async open(
    dataDir: string,
    fqrn: string,
    what = 'publish',
    options: { keepStaging?: boolean; ledger?: Ledger } = {},
  ): Promise<Publisher> {
    const paths = repositoryPaths(dataDir, fqrn);
    const config = await readRepositoryConfig(paths.state, fqrn);
    const lock = await RepositoryLock.acquire(paths.state, `barge ${what}`);
    try {
      const store = openObjectStore(paths, config);
      const keys = await readRepositoryKeys(paths.keys, fqrn);
      if (!options.keepStaging && store instanceof FsObjectStore) await store.clearStaging();
      const manifest = parseManifest(await store.get('.cvmfspublished'));
      await recoverReflog(store, paths.state, manifest);
      const state = new PublishState(paths.state);
      const ledger = options.ledger ?? Ledger.open(paths.state);
      return new Publisher(paths, config, store, keys, lock, state, manifest, ledger, !options.ledger);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** A publisher for the first revision of a repository being created (init holds the lock). */
  static bootstrap(
    paths: RepositoryPaths,
    config: RepositoryConfig,
    store: ObjectStore,
    keys: RepositoryKeys,
    lock: RepositoryLock,
    boot: Manifest,
  ): Publisher {
    return new Publisher(paths, config, store, keys, lock, new PublishState(paths.state), boot);
  }

  /** The manifest of the current revision. */
  get manifest(): Manifest {
    return this.current;
  }

  /** Loads a catalog of this repository, verifying its hash. */
  readonly loadCatalog: CatalogLoader = async (hash, mountpoint) => {
    const z = await this.store.get(objectPath(hash, 'C'));
    if (hashBytes(z, hashAlgorithm(hash)) !== hash) {
      throw new BargeError('OBJECT_CORRUPT', `catalog ${hash} does not match its hash`, {
        hint: "run 'barge fsck' on this repository",
      });
    }
    return Catalog.open(await decompress(z, `catalog ${hash}`), mountpoint, `catalog ${hash}`);
  };

  /** The content of a regular file of the current revision, or undefined if there is none. */
  async readFile(path: string): Promise<Buffer | undefined> {
    const d = await this.newTree().get(path);
    if (!d || (d.mode & S_IFMT) !== S_IFREG) return undefined;
    const parts = d.hash ? [objectPath(d.hash, '')] : d.chunks.map((c) => objectPath(c.hash, 'P'));
    const data = await Promise.all(parts.map(async (key) => decompress(await this.store.get(key), key)));
    return Buffer.concat(data);
  }

  /** A working tree over the current revision. */
  newTree(): WorkingTree {
    // Revision 0 is the bootstrap of init: there is no root catalog yet.
    const root = this.current.revision === 0 ? null : this.current.rootHash;
    return new WorkingTree(this.loadCatalog, root, this.current.rootSize);
  }

  /**
   * A writer for content objects of this repository. Its ingest workers write object files
   * themselves, so only a filesystem store gets them; other stores compress on libuv's pool.
   */
  newWriter(): ObjectWriter {
    const store = this.store;
    const { hashAlgorithm, chunkSizes } = this.config;
    return new ObjectWriter(this.staging.wrap(store), {
      algorithm: hashAlgorithm,
      chunkSizes,
      state: this.state,
      ...(store instanceof FsObjectStore
        ? { pool: () => new IngestPool(store.root, hashAlgorithm, chunkSizes, this.staging) }
        : {}),
    });
  }

  /** Publishes a local directory as the new content of `at` ('' = the whole repository). */
  async publishDirectory(
    source: string,
    at = '',
    onProgress?: PublishDirectoryOptions['onProgress'],
  ): Promise<PublishResult> {
    return withDiskFull(() => this.publishTree(source, at, onProgress));
  }

  private async publishTree(
    source: string,
    at = '',
    onProgress?: PublishDirectoryOptions['onProgress'],
  ): Promise<PublishResult> {
    validatePath(at);
    const abs = path.resolve(source);
    // Fast path: a tree whose every inode is as it was when it was last published here, into a
    // repository nobody changed since, is unchanged; nothing else needs to be read.
    sourceDirectory(abs);
    let print: ReturnType<typeof fingerprintTree>;
    try {
      print = fingerprintTree(abs);
    } catch (err) {
      throw sourceError(err, (err as { path?: string }).path ?? abs);
    }
    const racy = nowNs() - print.newestNs < RACY_WINDOW_NS;
    const last = this.state.lastPublishedTree(abs, at);
    if (last && last.rootHash === this.current.rootHash && last.fingerprint.equals(print.digest)) {
      return {
        published: false,
        revision: this.current.revision,
        rootHash: this.current.rootHash,
        catalogsWritten: 0,
        objectsWritten: 0,
        bytesWritten: 0,
        directory: { entries: print.entries, filesIngested: 0, filesUnchanged: print.entries, removed: 0 },
      };
    }
    const scanned = scanDirectory(abs, at, { xattrs: false });
    readScannedXattrs(scanned);
    const tree = this.newTree();
    const writer = this.newWriter();
    let stats: DirectoryPublishStats;
    let statRecords: StatRecords;
    try {
      ({ stats, statRecords } = await publishDirectory(tree, writer, abs, at, {
        algorithm: this.config.hashAlgorithm,
        state: this.state,
        scanned,
        ...(onProgress ? { onProgress } : {}),
      }));
    } finally {
      await writer.close();
    }
    const result = await this.commit(tree, writer, statRecords);
    if (!racy) this.state.recordPublishedTree(abs, at, print.digest, result.rootHash);
    return { ...result, directory: stats };
  }

  /** Applies the changes `change` makes to a working tree, as one revision. */
  async applyChanges(
    change: (tree: WorkingTree, writer: ObjectWriter) => Promise<void>,
    options: { tree?: WorkingTree } = {},
  ): Promise<PublishResult> {
    return withDiskFull(async () => {
      const tree = options.tree ?? this.newTree();
      const writer = this.newWriter();
      try {
        await change(tree, writer);
      } finally {
        // Worker threads, if the change started any, must not outlive it.
        await writer.close();
      }
      return this.commit(tree, writer, []);
    });
  }

  /**
   * Turns a changed tree into a signed revision. Steps in crash-safe order; failpoints mark where
   * the crash tests kill the process.
   */
  async commit(
    tree: WorkingTree,
    writer: ObjectWriter,
    statRecords: StatRecords = [],
  ): Promise<PublishResult> {
    this.assertOpen();
    await tree.restructure();
    if (tree.changes === 0) {
      this.state.record(statRecords, writer.newContents, nowNs());
      return {
        published: false,
        revision: this.current.revision,
        rootHash: this.current.rootHash,
        catalogsWritten: 0,
        objectsWritten: writer.stats.objectsWritten,
        bytesWritten: writer.stats.bytesWritten,
      };
    }
    const now = Math.max(Math.floor(Date.now() / 1000), this.current.timestamp + 1);
    const committed = await commitCatalogs(tree, {
      store: this.staging.wrap(this.store),
      loader: this.loadCatalog,
      algorithm: this.config.hashAlgorithm,
      now,
      ttl: this.config.ttl,
    });
    const history = await this.updateHistory(writer, (h) =>
      h.advanceTrunk({
        hash: committed.rootHash,
        revision: committed.revision,
        timestamp: now,
        size: committed.rootSize,
      }),
    );
    await this.recordInLedger(committed, history, now);
    await this.swapManifest({
      ...this.current,
      rootHash: committed.rootHash,
      rootSize: committed.rootSize,
      ttl: this.config.ttl,
      revision: committed.revision,
      history,
      timestamp: now,
    });
    this.ledger.markCommitted(committed.revision);
    this.state.record(statRecords, writer.newContents, nowNs());
    return {
      published: true,
      revision: committed.revision,
      rootHash: committed.rootHash,
      catalogsWritten: committed.catalogsWritten,
      objectsWritten: writer.stats.objectsWritten,
      bytesWritten: writer.stats.bytesWritten,
    };
  }

  /** Names the current revision (or an older root catalog) in the history database. */
  async tag(
    name: string,
    description = '',
    revision?: { hash: HashText; revision: number; timestamp: number; size: number },
  ): Promise<void> {
    this.assertOpen();
    const target = revision ?? (await this.headTagTarget());
    const writer = this.newWriter();
    const history = await this.updateHistory(writer, (h) => {
      if (h.getTag(name)) {
        throw new BargeError('TAG_EXISTS', `tag '${name}' already exists`, {
          hint: `remove it first with 'barge tag --remove ${name}'`,
        });
      }
      h.addTag({ name, description, ...target });
    });
    await this.swapHistory(history);
  }

  /** Removes a named tag. */
  async untag(name: string): Promise<void> {
    this.assertOpen();
    const writer = this.newWriter();
    const history = await this.updateHistory(writer, (h) => {
      if (!h.removeTag(name))
        throw new BargeError('TAG_NOT_FOUND', `there is no tag '${name}'`, {
          hint: "list tags with 'barge tags'",
        });
    });
    await this.swapHistory(history);
  }

  /** Releases the lock and the state database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.state.close();
    this.staging.end();
    if (this.ownsLedger) this.ledger.close();
    await this.lock.release();
  }

  private async headTagTarget(): Promise<{
    hash: HashText;
    revision: number;
    timestamp: number;
    size: number;
  }> {
    const root = await this.loadCatalog(this.current.rootHash, '');
    try {
      return {
        hash: this.current.rootHash,
        revision: root.revision,
        timestamp: root.lastModified,
        size: this.current.rootSize,
      };
    } finally {
      root.close();
    }
  }

  /**
   * Removes from the reflog what gc is about to delete (cvmfs_server gc removes both together) and
   * re-signs the current manifest with the new reflog hash; the revision stays the same.
   * Returns how many references went.
   */
  async pruneReflog(gone: (hash: HashText, type: ReferenceType) => boolean): Promise<number> {
    this.assertOpen();
    const bytes = await this.store.get('.cvmfsreflog').catch(() => undefined);
    if (!bytes) return 0;
    const reflog = ReflogDb.open(bytes);
    let count: number;
    try {
      count = reflog.list().filter((r) => gone(r.hash, r.type)).length;
    } finally {
      reflog.close();
    }
    if (count === 0) return 0;
    const timestamp = Math.max(Math.floor(Date.now() / 1000), this.current.timestamp + 1);
    await this.swapManifest({ ...this.current, timestamp }, gone);
    return count;
  }

  /** A new history object for the current revision (a tag added or removed). */
  private async swapHistory(history: HashText): Promise<void> {
    const timestamp = Math.max(Math.floor(Date.now() / 1000), this.current.timestamp + 1);
    this.ledger.setHistory(this.current.revision, objectPath(history, 'H'), timestamp);
    await this.swapManifest({ ...this.current, history, timestamp });
  }

  /**
   * Writes what the new revision references into the ledger (pending until the manifest is
   * swapped in), reading each new catalog once. An object a new catalog names that no live
   * catalog held before must still exist: a gc may have collected it after this writer reused
   * it (uploads are staged outside the lock). Then nothing is published: OBJECT_COLLECTED, and
   * the retry writes the object again.
   */
  private async recordInLedger(
    committed: { rootHash: HashText; revision: number; written: WrittenCatalogRefs[] },
    history: HashText,
    now: number,
  ): Promise<void> {
    // What each new catalog references, from the rows the commit wrote (reading the catalogs
    // back cost as much as writing them).
    const catalogs: LedgerCatalog[] = committed.written.map((w) => ({
      key: objectPath(w.hash, 'C'),
      mountpoint: w.mountpoint,
      objects: w.objects,
      children: w.children,
    }));
    // A ledger whose newest served revision is not the one this commit builds on missed a
    // revision (an older copy put back, a write without the ledger): its counts cannot be trusted
    // any more, so gc refuses until it is rebuilt, rather than deleting what it never counted.
    const served = this.ledger.revisions(['committed']).at(-1);
    if (
      this.current.revision > 0 &&
      (served?.revision !== this.current.revision || served.root !== this.current.rootHash)
    ) {
      this.ledger.setMeta('complete', 'no');
    }
    const unknown = new Set<string>();
    for (const c of catalogs) for (const o of c.objects) if (!this.ledger.isLive(o)) unknown.add(o);
    // Asked in bulk: a first publish asks about every object, and on S3 one HEAD each cost the
    // server as much again as the PUTs (the S3 store lists directories instead).
    const [gone] = await missingKeys(this.store, [...unknown]);
    if (gone !== undefined) {
      // The catalogs and history this commit already wrote are orphans for gc to take.
      this.ledger.orphan([...catalogs.map((c) => c.key), objectPath(history, 'H')]);
      throw new BargeError(
        'OBJECT_COLLECTED',
        `object ${gone} was garbage-collected while this publish used it`,
        {
          hint: 'retry: the next attempt writes it again (nothing was published)',
        },
      );
    }
    this.ledger.recordRevision(
      {
        revision: committed.revision,
        root: committed.rootHash,
        timestamp: now,
        history: objectPath(history, 'H'),
        certificate: objectPath(this.current.certificate, 'X'),
      },
      catalogs,
    );
    failpoint('ledger');
  }

  /** Applies `edit` to the history database and stores it as a new H object. */
  private async updateHistory(writer: ObjectWriter, edit: (h: HistoryDb) => void): Promise<HashText> {
    const old = this.current.history;
    const h = old
      ? HistoryDb.open(await decompress(await this.store.get(objectPath(old, 'H')), `history ${old}`))
      : HistoryDb.create(this.paths.fqrn);
    try {
      edit(h);
      if (old) h.setPreviousRevision(old);
      const { hash } = await writer.putObject(h.serialize(), 'H');
      failpoint('history');
      return hash;
    } finally {
      h.close();
    }
  }

  /**
   * Signs and swaps in a manifest: reflog prepared aside, everything flushed, manifest renamed
   * into place (the commit point), then the reflog. A crash between the two renames is repaired
   * by the next open from the pending copy.
   */
  private async swapManifest(
    next: Manifest,
    prune?: (hash: HashText, type: ReferenceType) => boolean,
  ): Promise<void> {
    const reflogBytes = await this.store.get('.cvmfsreflog').catch((err) => {
      if ((err as BargeError).code === 'OBJECT_NOT_FOUND') return undefined;
      throw err;
    });
    const reflog = reflogBytes ? ReflogDb.open(reflogBytes) : ReflogDb.create(this.paths.fqrn);
    let newReflog: Buffer;
    try {
      if (prune) for (const r of reflog.list()) if (prune(r.hash, r.type)) reflog.remove(r.hash, r.type);
      reflog.add(next.rootHash, 'catalog', next.timestamp);
      reflog.add(next.certificate, 'certificate', next.timestamp);
      if (next.history) reflog.add(next.history, 'history', next.timestamp);
      if (next.metainfo) reflog.add(next.metainfo, 'metainfo', next.timestamp);
      newReflog = reflog.serialize();
    } finally {
      reflog.close();
    }
    const manifest: Manifest = { ...next, reflog: hashBytes(newReflog, hashAlgorithm(next.rootHash)) };
    const pending = path.join(this.paths.state, PENDING_REFLOG);
    await fsp.writeFile(pending, newReflog);
    failpoint('reflog-pending');
    await this.store.flush();
    failpoint('flush');
    const signed = signManifest(manifest, this.keys.certificateKeyPem);
    failpoint('manifest');
    await this.store.put('.cvmfspublished', signed);
    failpoint('manifest-swapped');
    await this.store.put('.cvmfsreflog', newReflog);
    await this.store.flush();
    await fsp.rm(pending, { force: true });
    this.current = manifest;
  }

  private assertOpen(): void {
    if (this.closed) throw new BargeError('INVALID_ARGUMENT', 'this publisher is closed');
  }
}

/**
 * Brings the ledger in line with the served manifest: a pending revision that is the manifest's is
 * committed; any other pending one (its writer died before the swap) is dropped, so gc can collect
 * what only it referenced. Sessions of writers that died (their process is gone, as for a stale
 * repository lock) end: what they staged becomes orphans for gc. A repository without a ledger
 * row yet (created before the ledger, or by cvmfs_server) leaves the ledger incomplete until
 * `barge gc --rebuild-ledger`.
 */
function reconcileLedger(ledger: Ledger, manifest: Manifest): void {
  ledger.endDeadSessions(processAlive);
  const stale: number[] = [];
  for (const r of ledger.revisions(['pending'])) {
    if (r.revision === manifest.revision && r.root === manifest.rootHash) ledger.markCommitted(r.revision);
    else stale.push(r.revision);
  }
  if (stale.length > 0) ledger.dropRevisions(stale);
  if (ledger.meta('complete') === undefined)
    ledger.setMeta('complete', manifest.revision === 0 ? 'yes' : 'no');
}

/**
 * Finishes the last step of a writer that died between the manifest and the reflog rename: if the
 * served manifest names the pending reflog (Y), that reflog is put in place; otherwise the
 * manifest swap never happened and the pending copy is dropped.
 */
async function recoverReflog(store: ObjectStore, stateDir: string, manifest: Manifest): Promise<void> {
  const pending = path.join(stateDir, PENDING_REFLOG);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(pending);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (manifest.reflog && hashBytes(bytes, hashAlgorithm(manifest.reflog)) === manifest.reflog) {
    await store.put('.cvmfsreflog', bytes);
    await store.flush();
  }
  await fsp.rm(pending, { force: true });
}

/**
 * Runs a write and reports a full disk as DISK_FULL wherever it struck: an object, the state
 * database (SQLITE_FULL) or the pending reflog. Nothing was swapped in, so the last good revision
 * is still served.
 */
async function withDiskFull<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof BargeError) throw err;
    const code = errnoCode(err);
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL')
      throw ioError(Object.assign(err as Error, { code: 'ENOSPC' }), 'publish');
    throw err;
  }
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
