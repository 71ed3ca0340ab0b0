import { Catalog, type Dirent, S_IFDIR, S_IFMT } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import { HistoryDb } from '../history/index.js';
import {
  type Manifest,
  parseManifest,
  parseWhitelist,
  verifyTrustChain,
  type Whitelist,
} from '../manifest/index.js';
import {
  decompress,
  type HashText,
  hashAlgorithm,
  hashBytes,
  type ObjectSuffix,
  objectPath,
} from '../object/index.js';
import type { RepositorySource } from './source.js';

/** Options of RepositoryReader.open. */
export interface OpenRepositoryOptions {
  /** Master public keys (PEM); required unless `verify` is false. */
  publicKeysPem?: string[];
  /** Expected repository name; defaults to the manifest's N. */
  fqrn?: string;
  /** Time for the whitelist expiry check (default now). */
  now?: Date;
  /** Check whitelist and signatures (default true). Objects are always hash-checked. */
  verify?: boolean;
  /** A root catalog to read instead of the manifest's (a tag or older revision). */
  rootHash?: HashText;
}

/**
 * Reads any CVMFS repository (barge's or cvmfs_server's) from a source, as the client does:
 * the trust chain first (whitelist, certificate, manifest signature), then catalogs and objects
 * by hash, each verified before use. Nested catalogs load lazily on lookup.
 */
export class RepositoryReader {
  private readonly catalogs = new Map<string, Promise<Catalog>>();

  private constructor(
    readonly source: RepositorySource,
    readonly manifest: Manifest,
    readonly whitelist: Whitelist | undefined,
    readonly rootHash: HashText,
  ) {}

  /** Fetches and verifies the manifest and whitelist of a source. */
  static async open(
    source: RepositorySource,
    options: OpenRepositoryOptions = {},
  ): Promise<RepositoryReader> {
    const manifestBytes = await source.fetch('.cvmfspublished').catch((err) => {
      throw new BargeError(
        'REPO_NOT_FOUND',
        `no repository at ${source.location}: ${(err as Error).message}`,
        {
          cause: err,
          hint: 'give the repository base URL (http://host/cvmfs/<fqrn>) or its served directory',
        },
      );
    });
    let manifest = parseManifest(manifestBytes);
    let whitelist: Whitelist | undefined;
    if (options.verify !== false) {
      if (!options.publicKeysPem || options.publicKeysPem.length === 0) {
        throw new BargeError('KEY_NOT_FOUND', 'a master public key is needed to verify the repository', {
          hint: 'pass --key <fqrn>.pub (the key clients use as CVMFS_PUBLIC_KEY)',
        });
      }
      const whitelistBytes = await source.fetch('.cvmfswhitelist');
      const certificateObject = await source.fetch(objectPath(manifest.certificate, 'X'));
      manifest = verifyTrustChain({
        manifestBytes,
        whitelistBytes,
        certificateObject,
        publicKeysPem: options.publicKeysPem,
        fqrn: options.fqrn ?? manifest.fqrn,
        now: options.now ?? new Date(),
      });
      whitelist = parseWhitelist(whitelistBytes);
    } else if (options.fqrn && manifest.fqrn !== options.fqrn) {
      throw new BargeError('FQRN_MISMATCH', `the manifest is for '${manifest.fqrn}', not '${options.fqrn}'`);
    }
    return new RepositoryReader(source, manifest, whitelist, options.rootHash ?? manifest.rootHash);
  }

  /** The same repository read at another root catalog (a tag or an older revision). */
  atRoot(rootHash: HashText): RepositoryReader {
    return new RepositoryReader(this.source, this.manifest, this.whitelist, rootHash);
  }

  /** Fetches an object and checks that its bytes hash to its name (never trusts transport). */
  async fetchRaw(hash: HashText, suffix: ObjectSuffix): Promise<Buffer> {
    const key = objectPath(hash, suffix);
    const data = await this.source.fetch(key);
    if (hashBytes(data, hashAlgorithm(hash)) !== hash) {
      throw new BargeError('OBJECT_CORRUPT', `${key} from ${this.source.location} does not match its hash`, {
        hint: 'the object was corrupted in storage or in transit; run barge fsck on the source',
        details: { key },
      });
    }
    return data;
  }

  /** Fetches, verifies and inflates an object. */
  async fetchObject(hash: HashText, suffix: ObjectSuffix): Promise<Buffer> {
    return decompress(await this.fetchRaw(hash, suffix), objectPath(hash, suffix));
  }

  /** The catalog with this hash, opened for `mountpoint` (cached). */
  catalog(hash: HashText, mountpoint: string): Promise<Catalog> {
    let c = this.catalogs.get(hash);
    if (!c) {
      c = this.fetchObject(hash, 'C').then((bytes) => Catalog.open(bytes, mountpoint, `catalog ${hash}`));
      this.catalogs.set(hash, c);
      c.catch(() => this.catalogs.delete(hash));
    }
    return c;
  }

  /** The root catalog of the revision being read. */
  root(): Promise<Catalog> {
    return this.catalog(this.rootHash, '');
  }

  /** The catalog that holds `path` (the nested catalog for a mountpoint), loading nested catalogs on the way. */
  async catalogFor(path: string): Promise<Catalog> {
    let catalog = await this.root();
    for (;;) {
      const next = catalog.nestedCatalogs().find((n) => path === n.path || path.startsWith(`${n.path}/`));
      if (!next) return catalog;
      catalog = await this.catalog(next.hash, next.path);
    }
  }

  /** The entry at `path`, or undefined. */
  async lookup(path: string): Promise<Dirent | undefined> {
    return (await this.catalogFor(path)).lookup(path);
  }

  /** Every entry at and below `path`, parents before children, across nested catalogs. */
  async *walk(path = ''): AsyncGenerator<Dirent> {
    const top = await this.lookup(path);
    if (!top)
      throw new BargeError('INVALID_PATH', `${path || '/'} does not exist in ${this.source.location}`);
    yield top;
    if ((top.mode & S_IFMT) !== S_IFDIR) return;
    const stack = [path];
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      const catalog = await this.catalogFor(dir);
      for (const d of catalog.list(dir)) {
        yield d;
        if ((d.mode & S_IFMT) === S_IFDIR) stack.push(d.path);
      }
    }
  }

  /** Every catalog of the revision: hash, mountpoint and the opened catalog, parents first. */
  async *catalogTree(): AsyncGenerator<{ hash: HashText; mountpoint: string; catalog: Catalog }> {
    const stack: { hash: HashText; mountpoint: string }[] = [{ hash: this.rootHash, mountpoint: '' }];
    while (stack.length > 0) {
      const ref = stack.pop() as { hash: HashText; mountpoint: string };
      const catalog = await this.fetchObject(ref.hash, 'C').then((b) => Catalog.open(b, ref.mountpoint));
      try {
        yield { ...ref, catalog };
        for (const n of catalog.nestedCatalogs()) stack.push({ hash: n.hash, mountpoint: n.path });
      } finally {
        catalog.close();
      }
    }
  }

  /** The history (tag) database, or undefined if the repository has none. */
  async history(): Promise<HistoryDb | undefined> {
    if (!this.manifest.history) return undefined;
    return HistoryDb.open(await this.fetchObject(this.manifest.history, 'H'));
  }

  /** Releases cached catalogs. */
  async close(): Promise<void> {
    for (const c of this.catalogs.values()) (await c.catch(() => undefined))?.close();
    this.catalogs.clear();
  }
}
