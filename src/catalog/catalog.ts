import Database from 'better-sqlite3';
import { BargeError } from '../error/index.js';
import { type HashAlgorithm, type HashText, isHashText, toHashText } from '../object/index.js';
import { COUNTER_FIELDS, type Counters, zeroCounters } from './counters.js';
import type { Chunk, Dirent, NestedCatalogRef } from './dirent.js';
import { decodeFlags } from './flags.js';
import { keyString, type PathKey, pathKey } from './path-hash.js';
import { decodeXattrs } from './xattr-blob.js';

interface Row {
  md5path_1: bigint;
  md5path_2: bigint;
  parent_1: bigint;
  parent_2: bigint;
  hardlinks: bigint;
  hash: Buffer | null;
  size: bigint;
  mode: bigint;
  mtime: bigint;
  flags: bigint;
  name: string;
  symlink: string | null;
  uid: bigint;
  gid: bigint;
  xattr: Buffer | null;
}

/**
 * A row as entries() selects it: key and parent key as text, hardlink group and link count,
 * hash, size, mode, mtime, flags, name, symlink, uid, gid, xattr, mtimens.
 */
type RawRow = [
  string,
  string,
  number,
  number,
  Buffer | null,
  number | null,
  number,
  number | null,
  number,
  string,
  string | null,
  number | null,
  number | null,
  Buffer | null,
  number | null,
];

/** A chunk row before the file's flags tell its hash algorithm. */
interface RawChunk {
  offset: number;
  size: number;
  digest: Buffer;
}

const COLUMNS =
  'md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode, mtime, flags, name, symlink, uid, gid';

/**
 * A read-only catalog: one SQLite database of the CVMFS schema, opened from its uncompressed bytes
 * in memory. Rows are keyed by path hash; paths are rebuilt from the catalog's root prefix.
 */
export class Catalog {
  /** The mountpoint this catalog serves ('' for the root catalog). */
  readonly mountpoint: string;
  /** Every property, as stored (text). */
  readonly properties: ReadonlyMap<string, string>;
  readonly schemaRevision: number;
  private readonly db: Database.Database;
  private readonly hasXattr: boolean;
  private readonly hasMtimeNs: boolean;

  private constructor(db: Database.Database, mountpoint: string) {
    this.db = db;
    const props = new Map<string, string>();
    for (const r of db.prepare('SELECT key, value FROM properties').all() as {
      key: string;
      value: unknown;
    }[]) {
      props.set(r.key, String(r.value));
    }
    this.properties = props;
    const prefix = props.get('root_prefix');
    this.mountpoint = prefix ?? mountpoint;
    this.schemaRevision = Number(props.get('schema_revision') ?? 0);
    const cols = new Set(
      (db.prepare('PRAGMA table_info(catalog)').all() as { name: string }[]).map((c) => c.name),
    );
    this.hasXattr = cols.has('xattr');
    this.hasMtimeNs = cols.has('mtimens') && this.schemaRevision >= 7;
  }

  /** Opens a catalog from its uncompressed SQLite bytes; `mountpoint` is where the parent mounts it. */
  static open(bytes: Buffer, mountpoint = '', what = 'catalog'): Catalog {
    let db: Database.Database;
    try {
      db = new Database(bytes);
      db.defaultSafeIntegers(true);
      db.prepare('SELECT 1 FROM catalog LIMIT 1').all();
    } catch (cause) {
      throw new BargeError('CATALOG_INVALID', `${what} is not a CVMFS catalog database`, { cause });
    }
    const catalog = new Catalog(db, mountpoint);
    const schema = Number(catalog.properties.get('schema') ?? '1.0');
    if (!(Math.abs(schema - 2.5) < 0.0005 || Math.abs(schema - 2.4) < 0.0005 || schema < 2.0)) {
      db.close();
      throw new BargeError(
        'CATALOG_INVALID',
        `${what} has catalog schema ${schema}; CVMFS clients read 2.5, 2.4 and < 2.0`,
      );
    }
    return catalog;
  }

  /** The `revision` property. */
  get revision(): number {
    return Number(this.properties.get('revision') ?? 0);
  }

  /** The `last_modified` property (Unix seconds). */
  get lastModified(): number {
    return Number(this.properties.get('last_modified') ?? 0);
  }

  /** The previous version of this catalog, or null (none, or the null hash of a first version). */
  get previousRevision(): HashText | null {
    const p = this.properties.get('previous_revision');
    return p && isHashText(p) && !/^0+$/.test(p.slice(0, 40)) ? p : null;
  }

  /** The `TTL` property, or the client default 240 when absent. */
  get ttl(): number {
    return Number(this.properties.get('TTL') ?? 240);
  }

  /** The entry at an absolute repository path, or undefined. */
  lookup(path: string): Dirent | undefined {
    const key = pathKey(path);
    const row = this.db
      .prepare(`SELECT ${this.selectColumns()} FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?`)
      .get(key[0], key[1]) as Row | undefined;
    return row ? this.decode(row, path, this.chunksOf(key)) : undefined;
  }

  /** The entries directly below directory `path`, hidden ones included, sorted by name. */
  list(path: string): Dirent[] {
    const key = pathKey(path);
    const rows = this.db
      .prepare(`SELECT ${this.selectColumns()} FROM catalog WHERE parent_1 = ? AND parent_2 = ?`)
      .all(key[0], key[1]) as Row[];
    const prefix = path === '' ? '/' : `${path}/`;
    return rows
      .map((r) => this.decode(r, prefix + r.name, this.chunksOf([r.md5path_1, r.md5path_2])))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Every entry, parents before children, with full paths rebuilt from the root entry. Rows that
   * no parent chain reaches are reported as CATALOG_INVALID: the client could not see them.
   *
   * Loading an image's 14,000-row catalog is on the path of every image built on it, so rows come
   * as arrays of plain numbers, with the path keys joined into text by SQLite: BigInts for every
   * column and their decimal strings in JS made this 5× slower.
   *
   * `under` rebuilds the paths below another root instead of the mountpoint (the entries of a
   * copy: the root entry keeps its stored name and flags).
   */
  entries(under?: string): Dirent[] {
    const rows = this.db
      .prepare(
        `SELECT md5path_1 || ':' || md5path_2, parent_1 || ':' || parent_2, (ifnull(hardlinks, 0) >> 32) & 4294967295,
          ifnull(hardlinks, 0) & 4294967295, hash, size, mode, mtime, flags, name, symlink, uid, gid,
          ${this.hasXattr ? 'xattr' : 'NULL'}, ${this.hasMtimeNs ? 'mtimens' : 'NULL'} FROM catalog`,
      )
      .safeIntegers(false)
      .raw(true)
      .all() as RawRow[];
    const chunks = new Map<string, RawChunk[]>();
    for (const c of this.db
      .prepare(`SELECT md5path_1 || ':' || md5path_2, offset, size, hash FROM chunks ORDER BY offset`)
      .safeIntegers(false)
      .raw(true)
      .all() as [string, number, number, Buffer][]) {
      appendTo(chunks, c[0], { offset: c[1], size: c[2], digest: c[3] });
    }
    const children = new Map<string, RawRow[]>();
    for (const r of rows) appendTo(children, r[1], r);
    const rootKey = keyString(pathKey(this.mountpoint));
    const root = rows.find((r) => r[0] === rootKey);
    if (!root)
      throw new BargeError('CATALOG_INVALID', `catalog of '${this.mountpoint || '/'}' has no root entry`);
    const out: Dirent[] = [];
    const stack: [RawRow, string][] = [[root, under ?? this.mountpoint]];
    while (stack.length > 0) {
      const [row, path] = stack.pop() as [RawRow, string];
      const k = row[0];
      out.push(this.decodeRaw(row, path, chunks.get(k)));
      const kids = children.get(k);
      if (kids && k !== row[1]) {
        for (const kid of kids) stack.push([kid, `${path}/${kid[9]}`]);
      }
    }
    if (out.length !== rows.length) {
      throw new BargeError(
        'CATALOG_INVALID',
        `catalog of '${this.mountpoint || '/'}' has ${rows.length - out.length} rows that no directory reaches`,
      );
    }
    return out;
  }

  /** The nested catalogs this catalog references directly. */
  nestedCatalogs(): NestedCatalogRef[] {
    const rows = this.db.prepare('SELECT path, sha1, size FROM nested_catalogs').all() as {
      path: string;
      sha1: string;
      size: bigint | null;
    }[];
    return rows.map((r) => ({ path: r.path, hash: r.sha1, size: Number(r.size ?? 0) }));
  }

  /** The statistics counters, self and subtree; absent rows (old schemas) read as 0. */
  statistics(): { self: Counters; subtree: Counters } {
    const self = zeroCounters();
    const subtree = zeroCounters();
    const rows = this.db.prepare('SELECT counter, value FROM statistics').all() as {
      counter: string;
      value: bigint;
    }[];
    const byName = new Map(rows.map((r) => [r.counter, Number(r.value)]));
    for (const f of COUNTER_FIELDS) {
      self[f] = byName.get(`self_${f}`) ?? 0;
      subtree[f] = byName.get(`subtree_${f}`) ?? 0;
    }
    return { self, subtree };
  }

  /** Number of rows in the catalog table. */
  rowCount(): number {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM catalog').get() as { n: bigint }).n);
  }

  /** Every content hash this catalog references: file objects (suffix '') and chunks (suffix 'P'). */
  contentHashes(): { hash: HashText; suffix: '' | 'P' }[] {
    const out: { hash: HashText; suffix: '' | 'P' }[] = [];
    for (const r of this.db.prepare('SELECT hash, flags FROM catalog WHERE hash IS NOT NULL').all() as {
      hash: Buffer;
      flags: bigint;
    }[]) {
      const f = decodeFlags(Number(r.flags));
      if (!f.external) out.push({ hash: toHashText(r.hash, f.hashAlgorithm), suffix: '' });
    }
    const chunkRows = this.db
      .prepare(
        'SELECT c.hash AS hash, e.flags AS flags FROM chunks c JOIN catalog e ON c.md5path_1 = e.md5path_1 AND c.md5path_2 = e.md5path_2',
      )
      .all() as { hash: Buffer; flags: bigint }[];
    for (const r of chunkRows)
      out.push({ hash: toHashText(r.hash, decodeFlags(Number(r.flags)).hashAlgorithm), suffix: 'P' });
    return out;
  }

  /** Releases the in-memory database. */
  close(): void {
    this.db.close();
  }

  private selectColumns(): string {
    return `${COLUMNS}, ${this.hasXattr ? 'xattr' : 'NULL AS xattr'}${this.hasMtimeNs ? ', mtimens' : ''}`;
  }

  private chunksOf(key: PathKey): RawChunk[] | undefined {
    const rows = this.db
      .prepare('SELECT offset, size, hash FROM chunks WHERE md5path_1 = ? AND md5path_2 = ? ORDER BY offset')
      .all(key[0], key[1]) as { offset: bigint; size: bigint; hash: Buffer }[];
    if (rows.length === 0) return undefined;
    return rows.map((c) => ({ offset: Number(c.offset), size: Number(c.size), digest: c.hash }));
  }

  private decode(r: Row & { mtimens?: bigint | null }, path: string, chunks: RawChunk[] | undefined): Dirent {
    const flags = Number(r.flags);
    const f = decodeFlags(flags);
    const algo: HashAlgorithm = f.hashAlgorithm;
    const hl = r.hardlinks;
    return {
      path,
      name: r.name,
      mode: Number(r.mode),
      size: Number(r.size ?? 0),
      mtime: Number(r.mtime ?? 0),
      mtimeNs: r.mtimens === undefined || r.mtimens === null ? null : Number(r.mtimens),
      uid: Number(r.uid ?? 0),
      gid: Number(r.gid ?? 0),
      linkcount: Number(BigInt.asUintN(64, hl) & 0xffffffffn),
      hardlinkGroup: Number((BigInt.asUintN(64, hl) >> 32n) & 0xffffffffn),
      hash: r.hash && r.hash.length > 0 ? toHashText(r.hash, algo) : null,
      hashAlgorithm: algo,
      uncompressed: f.uncompressed,
      symlink: r.symlink ?? '',
      chunks:
        f.chunked && chunks
          ? chunks.map((c): Chunk => ({ offset: c.offset, size: c.size, hash: toHashText(c.digest, algo) }))
          : [],
      xattrs: decodeXattrs(r.xattr),
      nestedMountpoint: f.nestedMountpoint,
      nestedRoot: f.nestedRoot,
      hidden: f.hidden,
      external: f.external,
      directIo: f.directIo,
      bindMountpoint: f.bindMountpoint,
    };
  }

  private decodeRaw(r: RawRow, path: string, chunks: RawChunk[] | undefined): Dirent {
    const flags = r[8];
    const f = decodeFlags(flags);
    const algo: HashAlgorithm = f.hashAlgorithm;
    const hash = r[4];
    return {
      path,
      name: r[9],
      mode: r[6],
      size: r[5] ?? 0,
      mtime: r[7] ?? 0,
      mtimeNs: r[14] ?? null,
      uid: r[11] ?? 0,
      gid: r[12] ?? 0,
      linkcount: r[3],
      hardlinkGroup: r[2],
      hash: hash && hash.length > 0 ? toHashText(hash, algo) : null,
      hashAlgorithm: algo,
      uncompressed: f.uncompressed,
      symlink: r[10] ?? '',
      chunks:
        f.chunked && chunks
          ? chunks.map((c): Chunk => ({ offset: c.offset, size: c.size, hash: toHashText(c.digest, algo) }))
          : [],
      xattrs: decodeXattrs(r[13]),
      nestedMountpoint: f.nestedMountpoint,
      nestedRoot: f.nestedRoot,
      hidden: f.hidden,
      external: f.external,
      directIo: f.directIo,
      bindMountpoint: f.bindMountpoint,
    };
  }
}

function appendTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
