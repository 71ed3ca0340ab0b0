import { type Dirent, parentPath, S_IFDIR, S_IFMT, S_IFREG } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import type { HashText } from '../object/index.js';
import { type CatalogLoader, CatalogNode } from './catalog-node.js';

/** The marker file that makes its directory a nested catalog. */
export const CATALOG_MARKER = '.cvmfscatalog';

/**
 * The repository tree being changed: the catalogs of the current revision, loaded lazily, with
 * put and remove applied in memory. Nested catalog boundaries follow `.cvmfscatalog` markers:
 * adding one cuts its directory into a new catalog, removing one merges the catalog back into its
 * parent. Only catalogs on the path of a change are loaded and, at commit, rewritten; the rest
 * keep their hashes.
 */
export class WorkingTree {
  readonly root: CatalogNode;
  private loader: CatalogLoader;
  private readonly boundaryCandidates = new Set<string>();
  /** Number of put/remove operations that changed something. */
  changes = 0;

  constructor(loader: CatalogLoader, rootHash: HashText | null, rootSize: number) {
    this.loader = loader;
    this.root = new CatalogNode('', null, rootHash, rootSize);
  }

  /**
   * After its changes were committed: the tree stands for the new revision (see CatalogNode.settle)
   * and can take the next changes, loading catalogs through `loader` (the next writer's). A writer
   * that commits often (the upload queue) keeps its big catalogs loaded this way instead of
   * reading them back from the store each time.
   */
  settle(loader: CatalogLoader): void {
    this.root.settle();
    this.useLoader(loader);
    this.boundaryCandidates.clear();
    this.changes = 0;
  }

  /** Loads catalogs through `loader` from now on (a settled tree handed to the next writer). */
  useLoader(loader: CatalogLoader): void {
    this.loader = loader;
  }

  /** The root catalog's hash this tree stands for (null before the first revision). */
  get rootHash(): HashText | null {
    return this.root.hash;
  }

  /** The catalog that holds the entry at `path` (for a nested mountpoint: the nested catalog). */
  async owner(path: string): Promise<CatalogNode> {
    let node = this.root;
    await node.load(this.loader);
    if (path === '') return node;
    let prefix = '';
    for (const part of path.slice(1).split('/')) {
      // A catalog without nested ones owns everything below it (an image's flat root: most puts).
      if (node.children.size === 0) break;
      prefix = `${prefix}/${part}`;
      const child = node.children.get(prefix);
      if (child) {
        node = child;
        await node.load(this.loader);
      }
    }
    return node;
  }

  /**
   * The nested catalog mounted at `path`, if there is one, without loading it (only the catalogs
   * above it are loaded).
   */
  async catalogAt(path: string): Promise<CatalogNode | undefined> {
    if (path === '') return undefined;
    const node = await this.owner(parentPath(path));
    return node.children.get(path);
  }

  /** The entry at `path`, or undefined. */
  async get(path: string): Promise<Dirent | undefined> {
    return (await this.owner(path)).entries.get(path);
  }

  /**
   * Whether there is an entry at `path`, without loading a nested catalog mounted there (gc
   * expiring 1,000 uploads asked get() of each: 1,000 catalogs read for nothing).
   */
  async has(path: string): Promise<boolean> {
    if (path === '') return true;
    const node = await this.owner(parentPath(path));
    return node.children.has(path) || node.entries.has(path);
  }

  /** The entries of directory `path` (across a nested catalog boundary), sorted by name. */
  async list(path: string): Promise<Dirent[]> {
    const node = await this.owner(path);
    const names = [...(node.dirs.get(path) ?? [])].sort();
    const base = path === '' ? '' : path;
    return names.map((n) => node.entries.get(`${base}/${n}`)).filter((d): d is Dirent => d !== undefined);
  }

  /**
   * Adds or replaces the entry at `entry.path`. Its parent must be a directory. Replacing a
   * directory with anything else removes the directory's subtree first. A put identical to the
   * current entry changes nothing (so an unchanged catalog keeps its hash).
   */
  async put(entry: Dirent): Promise<void> {
    validatePath(entry.path);
    if (entry.path === '' && (entry.mode & S_IFMT) !== S_IFDIR) {
      throw new BargeError('INVALID_PATH', 'the repository root must stay a directory');
    }
    if (entry.path !== '') {
      const parent = await this.get(parentPath(entry.path));
      if (!parent || (parent.mode & S_IFMT) !== S_IFDIR) {
        throw new BargeError(
          'INVALID_PATH',
          `cannot add ${entry.path}: ${parentPath(entry.path) || '/'} is not a directory`,
        );
      }
    }
    let node = await this.owner(entry.path);
    const existing = node.entries.get(entry.path);
    const isDir = (entry.mode & S_IFMT) === S_IFDIR;
    if (existing) {
      if (sameEntry(existing, entry)) return;
      if ((existing.mode & S_IFMT) === S_IFDIR && !isDir) {
        await this.remove(entry.path);
        node = await this.owner(entry.path);
      }
    }
    const isNestedRoot = node.mountpoint === entry.path && entry.path !== '';
    const stored: Dirent = {
      ...entry,
      nestedRoot: isNestedRoot,
      nestedMountpoint: false,
      hardlinkGroup: entry.hardlinkGroup,
    };
    node.add(stored);
    node.markDirty();
    if (isNestedRoot && node.parent) {
      node.parent.add({ ...stored, nestedRoot: false, nestedMountpoint: true });
      node.parent.markDirty();
    }
    if (entry.name === CATALOG_MARKER) this.boundaryCandidates.add(parentPath(entry.path));
    this.changes++;
  }

  /** Removes the entry at `path` and everything below it, nested catalogs included. Absent paths are a no-op. */
  async remove(path: string): Promise<void> {
    validatePath(path);
    if (path === '') throw new BargeError('INVALID_PATH', 'the repository root cannot be removed');
    // A nested catalog mounted at `path` goes whole: dropped from its parent, never loaded.
    const parent = await this.owner(parentPath(path));
    if (parent.children.has(path)) {
      parent.children.delete(path);
      parent.delete(path);
      parent.markDirty();
      this.changes++;
      return;
    }
    const node = parent;
    const existing = node.entries.get(path);
    if (!existing) return;
    for (const p of node.subtreePaths(path).reverse()) {
      const nested = node.children.get(p);
      if (nested) node.children.delete(p);
      node.delete(p);
    }
    node.markDirty();
    if (existing.name === CATALOG_MARKER) this.boundaryCandidates.add(parentPath(path));
    this.changes++;
  }

  /**
   * Every entry at and below `path`, across nested catalogs (their root entries, not the
   * mountpoint rows of their parents), parents before children, siblings in no particular order.
   */
  async subtree(path: string): Promise<Dirent[]> {
    const out: Dirent[] = [];
    const walk = async (node: CatalogNode, dir: string): Promise<void> => {
      for (const p of node.subtreePaths(dir)) {
        const nested = p === node.mountpoint ? undefined : node.children.get(p);
        if (nested) {
          await nested.load(this.loader);
          await walk(nested, p);
        } else out.push(node.entries.get(p) as Dirent);
      }
    };
    await walk(await this.owner(path), path);
    return out;
  }

  /**
   * Copies the subtree at `from` to `to` (which must not exist; its parent must): entries only,
   * so content objects are shared and nothing is read or compressed again. Nested catalogs below
   * `from` are loaded; markers make the copy's catalogs at commit. Returns the entries copied.
   *
   * The entries go straight into the catalog that will hold them, not through put() one by one:
   * an image built on a base copies the base's whole flat root (14,000 entries in bench/images),
   * and the per-entry checks, lookups and the split at commit were most of such an image's time.
   * Nothing below `to` exists, so the checks put() makes hold for the copy as a whole.
   */
  async copySubtree(from: string, to: string): Promise<number> {
    validatePath(from);
    validatePath(to);
    if (to === from || to.startsWith(`${from}/`))
      throw new BargeError('INVALID_PATH', `cannot copy ${from} into itself`);
    if (await this.get(to)) throw new BargeError('INVALID_PATH', `cannot copy to ${to}: it exists`);
    const entries = await this.copiesOf(from, to);
    if (entries.length === 0) return 0;
    const parent = await this.get(parentPath(to));
    if (!parent || (parent.mode & S_IFMT) !== S_IFDIR) {
      throw new BargeError('INVALID_PATH', `cannot add ${to}: ${parentPath(to) || '/'} is not a directory`);
    }
    const holder = await this.owner(to);
    const rootMarker = entries.find((d) => d.path === `${to}/${CATALOG_MARKER}`);
    // A copied catalog root is a catalog at once, as restructure() would cut it at commit.
    let node = holder;
    const top = entries[0] as Dirent;
    if (rootMarker && (rootMarker.mode & S_IFMT) === S_IFREG && (top.mode & S_IFMT) === S_IFDIR) {
      node = new CatalogNode(to, holder, null, 0);
      node.loaded = true;
      holder.children.set(to, node);
    }
    const marker = `${to}/${CATALOG_MARKER}`;
    for (const copy of entries) {
      const isRoot = copy.path === to && node !== holder;
      copy.nestedMountpoint = false;
      copy.nestedRoot = isRoot;
      node.add(copy);
      if (isRoot) holder.add({ ...copy, nestedRoot: false, nestedMountpoint: true });
      else if (copy.name === CATALOG_MARKER && copy.path !== marker)
        this.boundaryCandidates.add(parentPath(copy.path));
    }
    node.markDirty();
    this.changes += entries.length;
    return entries.length;
  }

  /**
   * Fresh entries for a copy of the subtree at `from` placed at `to`, parents first. A catalog
   * nobody loaded yet (an image's flat root, when another image is built on it) is read straight
   * from its stored rows, which never enter this tree's maps.
   */
  private async copiesOf(from: string, to: string): Promise<Dirent[]> {
    const stored = await this.catalogAt(from);
    if (stored && !stored.loaded && stored.hash !== null) {
      const catalog = await this.loader(stored.hash, from);
      try {
        if (catalog.nestedCatalogs().length === 0) {
          const entries = catalog.entries(to);
          const top = entries[0];
          if (top) top.name = to.slice(to.lastIndexOf('/') + 1);
          return entries;
        }
      } finally {
        catalog.close();
      }
    }
    if (!(await this.get(from))) return [];
    return (await this.subtree(from)).map((d) => {
      const path = to + d.path.slice(from.length);
      return { ...d, path, name: path.slice(path.lastIndexOf('/') + 1) };
    });
  }

  /**
   * Moves catalog boundaries to where the markers now are: merges (deepest first) catalogs whose
   * marker went away, then cuts (shallowest first) directories that gained one.
   */
  async restructure(): Promise<void> {
    const candidates = [...this.boundaryCandidates].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
    this.boundaryCandidates.clear();
    const splits: string[] = [];
    for (const dir of candidates) {
      if (dir === '') continue;
      const node = await this.owner(dir);
      const d = node.entries.get(dir);
      if (!d || (d.mode & S_IFMT) !== S_IFDIR) continue;
      const marker = node.entries.get(`${dir}/${CATALOG_MARKER}`);
      const hasMarker = marker !== undefined && (marker.mode & S_IFMT) === S_IFREG;
      const isRoot = node.mountpoint === dir;
      if (!hasMarker && isRoot) await this.merge(node);
      else if (hasMarker && !isRoot) splits.push(dir);
    }
    for (const dir of splits.sort((a, b) => depth(a) - depth(b)))
      await this.split(await this.owner(dir), dir);
  }

  private async split(node: CatalogNode, dir: string): Promise<void> {
    const child = new CatalogNode(dir, node, null, 0);
    child.loaded = true;
    for (const p of node.subtreePaths(dir)) {
      const d = node.entries.get(p) as Dirent;
      child.add(p === dir ? { ...d, nestedRoot: true, nestedMountpoint: false } : d);
      const nested = node.children.get(p);
      if (nested) {
        node.children.delete(p);
        child.children.set(p, nested);
        nested.parent = child;
      }
      if (p !== dir) node.delete(p);
    }
    node.add({ ...(node.entries.get(dir) as Dirent), nestedMountpoint: true, nestedRoot: false });
    node.children.set(dir, child);
    child.markDirty();
  }

  private async merge(node: CatalogNode): Promise<void> {
    const parent = node.parent as CatalogNode;
    for (const [p, d] of node.entries) {
      parent.add(p === node.mountpoint ? { ...d, nestedRoot: false, nestedMountpoint: false } : d);
    }
    for (const [p, nested] of node.children) {
      await nested.load(this.loader);
      parent.children.set(p, nested);
      nested.parent = parent;
    }
    parent.children.delete(node.mountpoint);
    parent.markDirty();
  }
}

/** Whether two entries are the same for publishing (hardlink group ids compare by presence only). */
export function sameEntry(a: Dirent, b: Dirent): boolean {
  return (
    a.mode === b.mode &&
    a.size === b.size &&
    a.mtime === b.mtime &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.hash === b.hash &&
    a.hashAlgorithm === b.hashAlgorithm &&
    a.uncompressed === b.uncompressed &&
    a.symlink === b.symlink &&
    a.hidden === b.hidden &&
    a.external === b.external &&
    a.directIo === b.directIo &&
    (a.hardlinkGroup === 0) === (b.hardlinkGroup === 0) &&
    ((a.mode & S_IFMT) === S_IFDIR || a.linkcount === b.linkcount) &&
    sameChunks(a, b) &&
    sameXattrs(a.xattrs, b.xattrs)
  );
}

function sameChunks(a: Dirent, b: Dirent): boolean {
  if (a.chunks.length !== b.chunks.length) return false;
  return a.chunks.every((c, i) => {
    const o = b.chunks[i];
    return o !== undefined && c.offset === o.offset && c.size === o.size && c.hash === o.hash;
  });
}

function sameXattrs(a: Map<string, Buffer> | null, b: Map<string, Buffer> | null): boolean {
  const an = a?.size ?? 0;
  const bn = b?.size ?? 0;
  if (an !== bn) return false;
  if (an === 0) return true;
  for (const [k, v] of a as Map<string, Buffer>) {
    const w = b?.get(k);
    if (!w?.equals(v)) return false;
  }
  return true;
}

function depth(p: string): number {
  return p === '' ? 0 : p.split('/').length - 1;
}

const BAD_PART = /\/\.{0,2}(?:\/|$)/;

/** Repository paths are absolute, '' for the root, without '.', '..', empty parts or a trailing slash. */
export function validatePath(p: string): void {
  if (p === '') return;
  // A part that is empty, '.' or '..': a slash followed by at most two dots, then a slash or the end.
  if (!p.startsWith('/') || p.includes('\0') || BAD_PART.test(p)) {
    throw new BargeError('INVALID_PATH', `'${p}' is not a valid repository path`, {
      hint: "use an absolute path like /sw/v1 ('' or / for the root)",
    });
  }
}
