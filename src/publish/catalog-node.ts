import { type Catalog, type Counters, type Dirent, parentPath, S_IFDIR, S_IFMT } from '../catalog/index.js';
import type { HashText } from '../object/index.js';

/** Loads a stored catalog by hash for a mountpoint. */
export type CatalogLoader = (hash: HashText, mountpoint: string) => Promise<Catalog>;

/** What a catalog was when loaded, for revision numbers, counters and previous_revision. */
export interface LoadedCatalogState {
  revision: number;
  self: Counters;
  subtree: Counters;
  extraProperties: Map<string, string>;
}

/**
 * One catalog of the working tree. A node starts as a stub (hash only); loading reads every row
 * into memory with a per-directory index, so that changes cost O(depth) to route and the rewrite
 * costs O(rows of this catalog). Catalogs never loaded are never rewritten.
 */
export class CatalogNode {
  mountpoint: string;
  parent: CatalogNode | null;
  /** Hash and uncompressed size of the stored version; null for a catalog new in this change. */
  hash: HashText | null;
  size: number;
  loaded = false;
  dirty = false;
  entries = new Map<string, Dirent>();
  /** Directory path → names of its entries in this catalog. */
  dirs = new Map<string, Set<string>>();
  /** Nested catalogs by mountpoint. */
  children = new Map<string, CatalogNode>();
  /** The nested catalogs this one referenced when loaded (for subtree counter deltas). */
  originalChildren = new Set<CatalogNode>();
  original: LoadedCatalogState | null = null;
  /** Set by the commit: the new version. */
  written: { hash: HashText; size: number; total: Counters; self: Counters; subtree: Counters } | null = null;

  constructor(mountpoint: string, parent: CatalogNode | null, hash: HashText | null, size: number) {
    this.mountpoint = mountpoint;
    this.parent = parent;
    this.hash = hash;
    this.size = size;
  }

  /** Fills a stub from its stored catalog. */
  async load(loader: CatalogLoader): Promise<void> {
    if (this.loaded) return;
    if (this.hash === null) {
      this.loaded = true;
      return;
    }
    const catalog = await loader(this.hash, this.mountpoint);
    try {
      for (const d of catalog.entries()) this.add(d);
      for (const ref of catalog.nestedCatalogs()) {
        const child = new CatalogNode(ref.path, this, ref.hash, ref.size);
        this.children.set(ref.path, child);
        this.originalChildren.add(child);
      }
      const { self, subtree } = catalog.statistics();
      const extra = new Map<string, string>();
      for (const [k, v] of catalog.properties) extra.set(k, v);
      this.original = { revision: catalog.revision, self, subtree, extraProperties: extra };
    } finally {
      catalog.close();
    }
    this.loaded = true;
  }

  /** Adds or replaces an entry and indexes it under its parent directory. */
  add(d: Dirent): void {
    this.entries.set(d.path, d);
    if (d.path !== this.mountpoint) {
      const parent = parentPath(d.path);
      const names = this.dirs.get(parent);
      if (names) names.add(d.name);
      else this.dirs.set(parent, new Set([d.name]));
    }
    if ((d.mode & S_IFMT) === S_IFDIR && !this.dirs.has(d.path)) this.dirs.set(d.path, new Set());
  }

  /** Removes one entry (not its descendants) from this catalog and the index. */
  delete(path: string): void {
    const d = this.entries.get(path);
    if (!d) return;
    this.entries.delete(path);
    this.dirs.get(parentPath(path))?.delete(d.name);
    this.dirs.delete(path);
  }

  /** The paths of `dir` and everything below it in this catalog, parents first. */
  subtreePaths(dir: string): string[] {
    // The whole catalog: its entries in insertion order, which is parents first (rows load
    // parents first, and an entry can only be added below an existing directory, which stays in
    // place when it is replaced by a directory). No path is rebuilt or looked up.
    if (dir === this.mountpoint) return this.entries.has(dir) ? [...this.entries.keys()] : [];
    const out: string[] = [];
    const stack = [dir];
    while (stack.length > 0) {
      const p = stack.pop() as string;
      if (!this.entries.has(p)) continue;
      out.push(p);
      for (const name of this.dirs.get(p) ?? []) stack.push(p === '' ? `/${name}` : `${p}/${name}`);
    }
    return out;
  }

  /**
   * After a commit that wrote this subtree's dirty catalogs: every node now stands for its new
   * stored version, clean, as if loaded from it. Loaded leaves other than the root are unloaded
   * (a writer that keeps its tree between commits would otherwise hold every catalog it ever
   * wrote: each upload is one); catalogs with nested ones stay loaded, as the next change needs
   * them to route.
   */
  settle(): void {
    // A stub was neither changed nor written: nothing below it either.
    if (!this.loaded) return;
    for (const child of this.children.values()) child.settle();
    if (this.written) {
      const w = this.written;
      this.hash = w.hash;
      this.size = w.size;
      this.original = {
        revision: (this.original?.revision ?? 0) + 1,
        self: w.self,
        subtree: w.subtree,
        extraProperties: this.original?.extraProperties ?? new Map(),
      };
      this.written = null;
    }
    this.dirty = false;
    this.originalChildren = new Set(this.children.values());
    if (this.loaded && this.parent !== null && this.children.size === 0 && this.hash !== null) {
      this.loaded = false;
      this.entries = new Map();
      this.dirs = new Map();
      this.original = null;
    }
  }

  /** Marks this catalog and all its ancestors for rewriting (their nested references change). */
  markDirty(): void {
    for (let n: CatalogNode | null = this; n && !n.dirty; n = n.parent) n.dirty = true;
  }
}
