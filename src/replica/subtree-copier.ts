import { Catalog } from '../catalog/index.js';
import {
  decompress,
  type HashText,
  hashAlgorithm,
  hashBytes,
  type ObjectSuffix,
  objectPath,
} from '../object/index.js';
import { failpoint } from '../publish/index.js';
import type { RepositorySource } from '../repository/index.js';
import type { ObjectStore } from '../storage/index.js';
import { fetchVerified } from './fetch-verified.js';
import type { CompletedCatalog, ReplicaLedger } from './replica-ledger.js';
import type { TaskLimit } from './task-limit.js';

/** What a snapshot moved, so far. */
export interface CopyStats {
  /** Objects fetched from the source and stored (catalogs included). */
  objectsFetched: number;
  bytesFetched: number;
  /** Content objects found already stored (from an earlier or interrupted snapshot). */
  objectsPresent: number;
  catalogsFetched: number;
  /** Catalogs read from the replica's own copy (an interrupted snapshot had stored them). */
  catalogsLocal: number;
  /** Catalogs the ledger says are complete: their subtree was not walked at all. */
  catalogsSkipped: number;
}

/** Facts of a catalog that was walked (undefined when the ledger let it be skipped). */
export interface CatalogFacts {
  revision: number;
  previousRevision: HashText | null;
}

/**
 * Copies catalog subtrees from a source into a store, as a stratum 1 does: each catalog's file
 * objects, chunks and nested catalogs first, the catalog itself last, so that a catalog in the
 * store is at worst a subtree to re-check, never a hole a client can fall into. Objects already
 * stored are not fetched again; every fetched byte is hash-checked before it is written (tmp +
 * rename in the store). Requests go through one TaskLimit. A completed catalog becomes a ledger
 * row only at checkpoint(), after the store is flushed, so the ledger never runs ahead of the disk.
 */
export class SubtreeCopier {
  readonly stats: CopyStats = {
    objectsFetched: 0,
    bytesFetched: 0,
    objectsPresent: 0,
    catalogsFetched: 0,
    catalogsLocal: 0,
    catalogsSkipped: 0,
  };
  private readonly objects = new Map<string, Promise<void>>();
  private readonly catalogs = new Map<string, Promise<CatalogFacts | undefined>>();
  private pending: CompletedCatalog[] = [];
  private checkpointing: Promise<void> = Promise.resolve();

  /**
   * @param present the keys under data/ known to be stored when the run starts (a listing taken
   *   by the caller), so that no object is stat'ed; undefined: ask the store for each object.
   */
  constructor(
    private readonly source: RepositorySource,
    private readonly store: ObjectStore,
    private readonly ledger: ReplicaLedger,
    private readonly limit: TaskLimit,
    private readonly present?: ReadonlySet<string>,
  ) {}

  /** Copies the subtree of a catalog (once per run, however many parents or roots name it). */
  catalog(hash: HashText, mountpoint: string): Promise<CatalogFacts | undefined> {
    const key = objectPath(hash, 'C');
    let p = this.catalogs.get(key);
    if (!p) {
      p = this.copyCatalog(hash, key, mountpoint);
      p.catch(() => {});
      this.catalogs.set(key, p);
    }
    return p;
  }

  /** Copies one object unless stored already (a standalone one: certificate, history, meta-info). */
  object(hash: HashText, suffix: ObjectSuffix): Promise<void> {
    const key = objectPath(hash, suffix);
    let p = this.objects.get(key);
    if (!p) {
      p = this.limit.run(() => this.copyObject(hash, suffix, key));
      p.catch(() => {});
      this.objects.set(key, p);
    }
    return p;
  }

  /** Stores bytes already verified by the caller (the certificate checked by the trust chain). */
  async storeVerified(key: string, data: Buffer): Promise<void> {
    if (await this.store.put(key, data, { ifAbsent: true })) {
      this.stats.objectsFetched++;
      this.stats.bytesFetched += data.length;
    }
  }

  /** Refuses every request not yet started (after a fatal error). */
  stop(reason: unknown): void {
    this.limit.stop(reason);
  }

  /** Resolves when no request runs or waits. */
  idle(): Promise<void> {
    return this.limit.idle();
  }

  /** Makes completed catalogs durable: flushes the store, then records them (serialised). */
  checkpoint(): Promise<void> {
    this.checkpointing = this.checkpointing.then(async () => {
      const batch = this.pending;
      if (batch.length === 0) return;
      this.pending = [];
      await this.store.flush();
      this.ledger.complete(batch);
    });
    return this.checkpointing;
  }

  private async copyCatalog(
    hash: HashText,
    key: string,
    mountpoint: string,
  ): Promise<CatalogFacts | undefined> {
    if (this.ledger.isComplete(key)) {
      this.stats.catalogsSkipped++;
      return undefined;
    }
    const { bytes, local } = await this.limit.run(() => this.loadCatalog(hash, key));
    const catalog = Catalog.open(await decompress(bytes, key), mountpoint, `catalog ${key}`);
    let contents: { hash: HashText; suffix: '' | 'P' }[];
    let nested: { path: string; hash: HashText }[];
    let facts: CatalogFacts;
    try {
      contents = catalog.contentHashes();
      nested = catalog.nestedCatalogs();
      facts = { revision: catalog.revision, previousRevision: catalog.previousRevision };
    } finally {
      catalog.close();
    }
    await Promise.all([
      ...contents.map((c) => this.object(c.hash, c.suffix)),
      ...nested.map((n) => this.catalog(n.hash, n.path)),
    ]);
    if (!local) {
      await this.limit.run(() => this.store.put(key, bytes, { ifAbsent: true }));
      this.stats.objectsFetched++;
      this.stats.bytesFetched += bytes.length;
    }
    this.pending.push({
      key,
      mountpoint,
      children: nested.map((n) => objectPath(n.hash, 'C')),
      objects: contents.map((c) => objectPath(c.hash, c.suffix)),
    });
    return facts;
  }

  /** The replica's own copy of a catalog when it is intact, else the source's (verified). */
  private async loadCatalog(hash: HashText, key: string): Promise<{ bytes: Buffer; local: boolean }> {
    if (await this.held(key)) {
      const bytes = await this.store.get(key);
      if (hashBytes(bytes, hashAlgorithm(hash)) === hash) {
        this.stats.catalogsLocal++;
        return { bytes, local: true };
      }
      // Damaged (a crash before the data reached the disk): fetched again and replaced below.
      await this.store.delete([key]);
    }
    const bytes = await fetchVerified(this.source, hash, 'C');
    this.stats.catalogsFetched++;
    return { bytes, local: false };
  }

  /** Whether an object is stored: from the listing when there is one, else from the store. */
  private held(key: string): Promise<boolean> | boolean {
    return this.present ? this.present.has(key) : this.store.has(key);
  }

  private async copyObject(hash: HashText, suffix: ObjectSuffix, key: string): Promise<void> {
    if (await this.held(key)) {
      this.stats.objectsPresent++;
      return;
    }
    const data = await fetchVerified(this.source, hash, suffix);
    // Absent a moment ago and fetched once per run (the map above): no second existence check.
    await this.store.put(key, data);
    this.stats.objectsFetched++;
    this.stats.bytesFetched += data.length;
    failpoint('replicate-object');
  }
}
