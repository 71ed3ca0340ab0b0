import Database from 'better-sqlite3';
import { BargeError } from '../error/index.js';
import { type HashText, hashDigest } from '../object/index.js';
import { COUNTER_FIELDS, type Counters, countEntries } from './counters.js';
import type { Dirent, NestedCatalogRef } from './dirent.js';
import { parentPath, S_IFDIR, S_IFMT } from './dirent.js';
import { encodeFlags } from './flags.js';
import { type PathKey, pathKey, ROOT_PARENT_KEY } from './path-hash.js';
import { CATALOG_DDL, CATALOG_PAGE_SIZE, CATALOG_SCHEMA, CATALOG_SCHEMA_REVISION } from './schema.js';
import { encodeXattrs } from './xattr-blob.js';

/** Everything one catalog database holds. */
export interface CatalogContent {
  /** '' for the root catalog, else the nested catalog's mountpoint path. */
  mountpoint: string;
  /** All rows, the catalog's own root entry (path === mountpoint) included; parents before children. */
  entries: readonly Dirent[];
  nested: readonly NestedCatalogRef[];
  revision: number;
  lastModified: number;
  /** The previous version of this catalog; the null hash for a new nested catalog; null writes no property (mkfs root). */
  previousRevision: HashText | null;
  /** Root catalog only: seconds between client manifest checks (cvmfs default 240). */
  ttl?: number;
  /** Sum of self + subtree counters of every nested catalog below. */
  subtree: Counters;
  /** Other properties to carry over (volatile, voms_authz...). */
  extraProperties?: ReadonlyMap<string, string>;
}

/** The written database and the counters it carries. */
export interface WrittenCatalog {
  /** Uncompressed SQLite file: rollback journal, 4096-byte pages, no WAL. */
  bytes: Buffer;
  self: Counters;
  subtree: Counters;
}

/** The null hash cvmfs writes as previous_revision of a catalog's first version. */
export const NULL_HASH = '0'.repeat(40);

/**
 * Writes one catalog database from scratch in memory, in the schema and property layout of the
 * fixture. A fresh file is compact without VACUUM; the serialised header says rollback journal,
 * which the client's read-only VFS requires (spec §6.2).
 */
export function writeCatalog(content: CatalogContent): WrittenCatalog {
  const db = new Database(':memory:');
  try {
    db.pragma(`page_size = ${CATALOG_PAGE_SIZE}`);
    // Nothing to roll back to: the database is dropped on failure. (The file header keeps saying
    // rollback journal, as the client requires.)
    db.pragma('journal_mode = OFF');
    // Indexes are built once the rows are in: a sort instead of 14,000 random inserts for an
    // image's catalog, and denser pages. sqlite_master keeps the fixture's order and text.
    const indexes = CATALOG_DDL.filter((ddl) => ddl.startsWith('CREATE INDEX'));
    for (const ddl of CATALOG_DDL) if (!indexes.includes(ddl)) db.exec(ddl);
    const self = countEntries(content.entries, content.nested.length);
    db.transaction(() => {
      const prop = db.prepare('INSERT INTO properties (key, value) VALUES (?, ?)');
      prop.run('schema', CATALOG_SCHEMA);
      prop.run('schema_revision', String(CATALOG_SCHEMA_REVISION));
      if (content.mountpoint !== '') prop.run('root_prefix', content.mountpoint);
      if (content.mountpoint === '' && content.ttl !== undefined) prop.run('TTL', String(content.ttl));
      prop.run('last_modified', String(content.lastModified));
      prop.run('revision', String(content.revision));
      if (content.previousRevision !== null) prop.run('previous_revision', content.previousRevision);
      for (const [k, v] of content.extraProperties ?? []) {
        if (!RESERVED_PROPERTIES.has(k)) prop.run(k, v);
      }
      insertEntries(db, content);
      const nested = db.prepare('INSERT INTO nested_catalogs (path, sha1, size) VALUES (?, ?, ?)');
      for (const n of content.nested) nested.run(n.path, n.hash, n.size);
      const stat = db.prepare('INSERT INTO statistics (counter, value) VALUES (?, ?)');
      for (const f of COUNTER_FIELDS) stat.run(`self_${f}`, self[f]);
      for (const f of COUNTER_FIELDS) stat.run(`subtree_${f}`, content.subtree[f]);
      for (const ddl of indexes) db.exec(ddl);
    })();
    return { bytes: db.serialize(), self, subtree: content.subtree };
  } finally {
    db.close();
  }
}

const RESERVED_PROPERTIES = new Set([
  'schema',
  'schema_revision',
  'root_prefix',
  'TTL',
  'last_modified',
  'revision',
  'previous_revision',
]);

function insertEntries(db: Database.Database, content: CatalogContent): void {
  const row = db.prepare(
    'INSERT INTO catalog (md5path_1, md5path_2, parent_1, parent_2, hash, hardlinks, size, mode, mtime, flags, name, symlink, uid, gid, xattr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const chunk = db.prepare(
    'INSERT INTO chunks (md5path_1, md5path_2, offset, size, hash) VALUES (?, ?, ?, ?, ?)',
  );
  let sawRoot = false;
  // Keys of the directories written so far: rows come parents first, so a parent's key is
  // computed once, not once per child (MD5 was half of writing an image's 14,000-row catalog).
  const dirKeys = new Map<string, PathKey>();
  const rootFlags = { root: content.mountpoint !== '', mountpoint: false };
  const otherFlags = { root: false, mountpoint: false };
  const mountpointFlags = { root: false, mountpoint: true };
  for (const d of content.entries) {
    const isCatalogRoot = d.path === content.mountpoint;
    if (isCatalogRoot) sawRoot = true;
    const key = pathKey(d.path);
    if ((d.mode & S_IFMT) === S_IFDIR) dirKeys.set(d.path, key);
    let parent = ROOT_PARENT_KEY;
    if (d.path !== '') {
      const up = parentPath(d.path);
      parent = dirKeys.get(up) ?? pathKey(up);
    }
    // Link count in the low 32 bits, hardlink group in the high 32 (spec §6.3).
    const hardlinks =
      d.hardlinkGroup === 0
        ? d.linkcount
        : BigInt.asIntN(64, (BigInt(d.hardlinkGroup) << 32n) | BigInt(d.linkcount));
    const flags = encodeFlags(
      d,
      isCatalogRoot ? rootFlags : d.nestedMountpoint ? mountpointFlags : otherFlags,
    );
    row.run(
      key[0],
      key[1],
      parent[0],
      parent[1],
      d.hash === null ? null : hashDigest(d.hash),
      hardlinks,
      d.size,
      d.mode,
      d.mtime,
      flags,
      d.name,
      d.symlink,
      d.uid,
      d.gid,
      encodeXattrs(d.xattrs, d.path),
    );
    for (const c of d.chunks) chunk.run(key[0], key[1], c.offset, c.size, hashDigest(c.hash));
  }
  if (!sawRoot) {
    throw new BargeError(
      'CATALOG_INVALID',
      `catalog of '${content.mountpoint || '/'}' would have no root entry`,
    );
  }
}
