import {
  addCounters,
  type Counters,
  type Dirent,
  type NestedCatalogRef,
  NULL_HASH,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  writeCatalog,
  zeroCounters,
} from '../catalog/index.js';
import { compressSync, type HashAlgorithm, type HashText, hashBytes, objectPath } from '../object/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { CatalogLoader, CatalogNode } from './catalog-node.js';
import { failpoint } from './failpoint.js';
import type { WorkingTree } from './working-tree.js';

/** Options of commitCatalogs. */
export interface CommitCatalogsOptions {
  store: ObjectStore;
  loader: CatalogLoader;
  algorithm: HashAlgorithm;
  /** Unix seconds written as last_modified of every rewritten catalog. */
  now: number;
  /** Root catalog TTL property (seconds). */
  ttl: number;
}

/** The new root catalog and what the commit wrote. */
export interface CommittedCatalogs {
  rootHash: HashText;
  /** Uncompressed size of the root catalog (manifest B). */
  rootSize: number;
  revision: number;
  lastModified: number;
  catalogsWritten: number;
  /** Every catalog written, with its mountpoint and what it references (for the ledger). */
  written: WrittenCatalogRefs[];
}

/** A catalog a commit wrote and the store keys its rows name, taken from the rows it wrote. */
export interface WrittenCatalogRefs {
  mountpoint: string;
  hash: HashText;
  /** Content objects (files, `P` chunks), distinct. */
  objects: string[];
  /** Its nested catalogs (`C` keys). */
  children: string[];
}

/**
 * Writes every dirty catalog of the tree bottom-up (children before parents, all before the
 * manifest): each gets revision + 1, last_modified = now, previous_revision = its old hash, fresh
 * counters, and its new hash goes into its parent's nested_catalogs row. Subtree counters are
 * updated by deltas, so untouched nested catalogs are neither fetched nor rewritten.
 */
export async function commitCatalogs(
  tree: WorkingTree,
  options: CommitCatalogsOptions,
): Promise<CommittedCatalogs> {
  const written: WrittenCatalogRefs[] = [];
  const statsCache = new Map<HashText, Counters>();

  const originalTotal = async (c: CatalogNode): Promise<Counters> => {
    if (c.original) return addCounters(c.original.self, c.original.subtree);
    if (c.hash === null) return zeroCounters();
    const cached = statsCache.get(c.hash);
    if (cached) return cached;
    const catalog = await options.loader(c.hash, c.mountpoint);
    try {
      const { self, subtree } = catalog.statistics();
      const total = addCounters(self, subtree);
      statsCache.set(c.hash, total);
      return total;
    } finally {
      catalog.close();
    }
  };
  const currentTotal = async (c: CatalogNode): Promise<Counters> =>
    c.written ? c.written.total : originalTotal(c);

  const write = async (node: CatalogNode): Promise<void> => {
    for (const child of node.children.values()) if (child.dirty) await write(child);
    const entries = normalize(node);
    let subtree = node.original ? { ...node.original.subtree } : zeroCounters();
    const after = new Set(node.children.values());
    for (const c of node.originalChildren) {
      if (!after.has(c) || c.written) subtree = addCounters(subtree, await originalTotal(c), -1);
    }
    for (const c of after) {
      if (!node.originalChildren.has(c) || c.written) subtree = addCounters(subtree, await currentTotal(c));
    }
    const nested: NestedCatalogRef[] = [...node.children.values()]
      .map((c) => ({
        path: c.mountpoint,
        hash: c.written?.hash ?? (c.hash as HashText),
        size: c.written?.size ?? c.size,
      }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    const isRoot = node.parent === null;
    const result = writeCatalog({
      mountpoint: node.mountpoint,
      entries,
      nested,
      revision: (node.original?.revision ?? 0) + 1,
      lastModified: options.now,
      previousRevision: node.hash ?? (isRoot ? null : NULL_HASH),
      ...(isRoot ? { ttl: options.ttl } : {}),
      subtree,
      ...(node.original ? { extraProperties: node.original.extraProperties } : {}),
    });
    // libdeflate on this thread: an image's 2 MB catalog took 3× as long with zlib on the thread pool.
    const z = compressSync(result.bytes);
    const hash = hashBytes(z, options.algorithm);
    await options.store.put(objectPath(hash, 'C'), z, { ifAbsent: true });
    failpoint('catalog');
    node.written = {
      hash,
      size: result.bytes.length,
      total: addCounters(result.self, subtree),
      self: result.self,
      subtree,
    };
    written.push({
      mountpoint: node.mountpoint,
      hash,
      objects: contentKeys(entries),
      children: nested.map((n) => objectPath(n.hash, 'C')),
    });
  };

  const root = tree.root;
  await root.load(options.loader);
  root.markDirty();
  await write(root);
  const w = root.written as NonNullable<CatalogNode['written']>;
  return {
    rootHash: w.hash,
    rootSize: w.size,
    revision: (root.original?.revision ?? 0) + 1,
    lastModified: options.now,
    catalogsWritten: written.length,
    written,
  };
}

/** The store keys of the content objects rows name, as Catalog.contentHashes() reads them back. */
function contentKeys(entries: readonly Dirent[]): string[] {
  const keys = new Set<string>();
  for (const d of entries) {
    if (d.hash !== null && !d.external) keys.add(objectPath(d.hash, ''));
    for (const c of d.chunks) keys.add(objectPath(c.hash, 'P'));
  }
  return [...keys];
}

/**
 * Brings derived fields in line before a catalog is written: directory link counts (2 + sub-
 * directories, as st_nlink), mountpoint rows equal to the nested roots they stand for, hardlink
 * groups renumbered 1..n per catalog with link count = members in the directory. Returns the rows
 * parents first.
 */
function normalize(node: CatalogNode): Dirent[] {
  for (const child of node.children.values()) {
    const childRoot = child.loaded ? child.entries.get(child.mountpoint) : undefined;
    if (childRoot) node.add({ ...childRoot, nestedRoot: false, nestedMountpoint: true });
  }
  const groups = new Map<string, Dirent[]>();
  const ordered: Dirent[] = [];
  const top = node.entries.get(node.mountpoint);
  // Entries, not paths, on the stack: each child path is built and looked up once (an image's
  // catalog has 14,000 rows).
  const stack: Dirent[] = top ? [top] : [];
  while (stack.length > 0) {
    let d = stack.pop() as Dirent;
    const path = d.path;
    if ((d.mode & S_IFMT) === S_IFDIR) {
      const names = [...(node.dirs.get(path) ?? [])].sort();
      const prefix = path === '' ? '/' : `${path}/`;
      const kids: Dirent[] = [];
      let subdirs = 0;
      for (const name of names) {
        const kid = node.entries.get(prefix + name);
        if (!kid) continue;
        kids.push(kid);
        if ((kid.mode & S_IFMT) === S_IFDIR) subdirs++;
      }
      if (path === node.mountpoint || !node.children.has(path)) {
        if (d.linkcount !== 2 + subdirs || d.hardlinkGroup !== 0) {
          d = { ...d, linkcount: 2 + subdirs, hardlinkGroup: 0 };
          node.entries.set(path, d);
        }
      }
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as Dirent);
    } else if ((d.mode & S_IFMT) === S_IFREG && d.hardlinkGroup !== 0) {
      const key = `${d.path.slice(0, d.path.lastIndexOf('/'))}\0${d.hardlinkGroup}`;
      const list = groups.get(key);
      if (list) list.push(d);
      else groups.set(key, [d]);
    } else if (d.linkcount !== 1 || d.hardlinkGroup !== 0) {
      d = { ...d, linkcount: 1, hardlinkGroup: 0 };
      node.entries.set(path, d);
    }
    ordered.push(d);
  }
  if (groups.size === 0) return ordered;
  // Renumber groups in path order so that an unchanged catalog keeps its ids.
  const sortedGroups = [...groups.values()].sort((a, b) => (minPath(a) < minPath(b) ? -1 : 1));
  let next = 1;
  const replaced = new Map<string, Dirent>();
  for (const members of sortedGroups) {
    const id = members.length > 1 ? next++ : 0;
    for (const m of members)
      replaced.set(m.path, { ...m, hardlinkGroup: id, linkcount: Math.max(members.length, 1) });
  }
  return ordered.map((d) => {
    const r = replaced.get(d.path);
    if (r) node.entries.set(d.path, r);
    return r ?? d;
  });
}

function minPath(list: Dirent[]): string {
  return list.map((d) => d.path).sort()[0] as string;
}
