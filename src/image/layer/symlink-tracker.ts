import type { TarEntryType } from './tar-meta.js';

/** Whether a path is a symlink in the image as the layers below the current one left it. */
export type LowerSymlinks = (path: string) => boolean;

/**
 * Knows which paths are symlinks, so that an entry whose parent is a symlink (`a` -> `/etc`,
 * then `a/passwd`) is refused instead of being written through it: extracting such a layer on
 * disk writes outside the root, and in a catalog it would hang a child under a symlink. Give one
 * tracker to readLayer for every layer of an image, in order; it carries the symlinks of the
 * layers below from one to the next. A flattener that keeps its own tree can instead answer for
 * the layers below with `lower`, and the tracker then only keeps the current layer.
 *
 * Within a layer, whiteouts and opaque markers hide only what lies below it (OCI image spec,
 * layer.md "Whiteouts": they "MUST only apply to resources in lower/parent layers"), whatever
 * their order in the tar. Memory: the symlinks below, plus the current layer's non-directories.
 */
export class SymlinkTracker {
  private readonly below = new Set<string>();
  private readonly lower: LowerSymlinks | undefined;
  /** This layer's entries that matter: non-directories (hard link targets) and directories replacing a symlink. */
  private layer = new Map<string, TarEntryType>();
  private whiteouts = new Set<string>();
  private opaques = new Set<string>();

  constructor(options: { lower?: LowerSymlinks } = {}) {
    this.lower = options.lower;
  }

  /** Starts a layer. */
  beginLayer(): void {
    this.layer = new Map();
    this.whiteouts = new Set();
    this.opaques = new Set();
  }

  /** Ends a layer (read without error): its changes become part of what lies below the next. */
  endLayer(): void {
    if (this.lower === undefined) {
      for (const path of this.below) {
        if (this.layer.has(path) || this.hiddenBelow(path)) this.below.delete(path);
      }
      for (const [path, type] of this.layer) if (type === 'symlink') this.below.add(path);
    }
    this.beginLayer();
  }

  /** Notes an entry of the current layer. */
  record(path: string, type: TarEntryType): void {
    if (type !== 'directory' || this.layer.has(path) || this.isBelow(path)) this.layer.set(path, type);
  }

  /** Notes a whiteout of the current layer: `path` is gone from the layers below. */
  whiteout(path: string): void {
    this.whiteouts.add(path);
  }

  /** Notes an opaque directory of the current layer: everything under `dir` is gone from the layers below. */
  opaque(dir: string): void {
    this.opaques.add(dir);
  }

  /** The kind of an earlier non-directory entry of the current layer at `path` (a hard link's possible target). */
  earlierEntry(path: string): TarEntryType | undefined {
    const type = this.layer.get(path);
    return type === 'directory' ? undefined : type;
  }

  /** Whether `path` is a symlink now: made so by this layer, or below and neither replaced nor hidden. */
  isSymlink(path: string): boolean {
    const type = this.layer.get(path);
    if (type !== undefined) return type === 'symlink';
    return !this.hiddenBelow(path) && this.isBelow(path);
  }

  /** The nearest-to-root ancestor of `path` that is a symlink, or undefined when none is. */
  symlinkedParent(path: string): string | undefined {
    let hidden = this.opaques.has('');
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      const dir = path.slice(0, slash);
      const type = this.layer.get(dir);
      if (type === 'symlink') return dir;
      if (type === undefined && !hidden && !this.whiteouts.has(dir) && this.isBelow(dir)) return dir;
      // Below a whiteout, an opaque directory or a non-directory of this layer, nothing from the layers below is left.
      if ((type !== undefined && type !== 'directory') || this.whiteouts.has(dir) || this.opaques.has(dir))
        hidden = true;
    }
    return undefined;
  }

  private isBelow(path: string): boolean {
    return this.lower ? this.lower(path) : this.below.has(path);
  }

  /** Whether this layer hides `path` of the layers below (whiteout, opaque ancestor, or an ancestor replaced by a non-directory). */
  private hiddenBelow(path: string): boolean {
    if (this.whiteouts.has(path) || this.opaques.has('')) return true;
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      const dir = path.slice(0, slash);
      if (this.whiteouts.has(dir) || this.opaques.has(dir)) return true;
      const type = this.layer.get(dir);
      if (type !== undefined && type !== 'directory') return true;
    }
    return false;
  }
}
