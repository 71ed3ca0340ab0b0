import { type Dirent, entryKind } from '../catalog/index.js';
import type { HashAlgorithm } from '../object/index.js';
import type { IngestedContent } from '../publish/index.js';
import { impliedDirectory, isDirectory, markerEntry } from './tarball-entry.js';
import { tarballError } from './tarball-error.js';

/** One staged entry: its catalog entry and, for a regular file, its content being stored. */
export interface StagedNode {
  dirent: Dirent;
  content?: Promise<IngestedContent>;
}

/** Where an entry came from, for messages. */
export interface EntryPlace {
  label: string;
  entry: string;
  offset: number;
}

/**
 * The tree an upload unpacks to, built in memory in tar order and applied to a working tree only
 * once the whole upload was read without error. It behaves as extracting with tar does: a later
 * member replaces an earlier one at the same path, a directory over a directory only updates its
 * metadata, and directories the tarball implies are made. Where tar would fail (a member under a
 * file, a file over a directory that has entries) the upload is refused instead of guessed at.
 *
 * Paths are relative to the upload root ('' is the root itself). Iteration order is insertion
 * order, and a parent is always inserted before its children, so applying the entries in order
 * never puts a child under a missing directory.
 */
export class TarballTree {
  private readonly nodes = new Map<string, StagedNode>();
  /** Entries directly under each directory: decides whether a directory may be replaced. */
  private readonly kids = new Map<string, number>();
  private rootListed = false;
  /** Directories made because the tarball implied them: they count against the entry limit too. */
  implied = 0;

  constructor(private readonly algorithm: HashAlgorithm) {
    this.nodes.set('', { dirent: impliedDirectory('', 0, algorithm) });
  }

  /**
   * Adds (or replaces) the entry at `dirent.path`. A regular file's content is set on the returned
   * node once storing it has started: what tar could not extract is refused before content is read.
   */
  add(dirent: Dirent, place: EntryPlace): StagedNode {
    const path = dirent.path;
    const node: StagedNode = { dirent };
    if (path === '') {
      // The tarball's own `./`: its metadata is the upload root's.
      this.rootListed = true;
      this.nodes.set('', node);
      return node;
    }
    const existing = this.nodes.get(path);
    if (existing) {
      if (isDirectory(existing.dirent) && !isDirectory(dirent) && (this.kids.get(path) ?? 0) > 0) {
        throw tarballError(
          'TAR_NAME_INVALID',
          `a ${entryKind(dirent.mode)} replaces a directory that already has entries (tar would fail to extract it)`,
          place,
        );
      }
      this.nodes.set(path, node);
      return node;
    }
    this.ensureParents(path, dirent.mtime, place);
    this.nodes.set(path, node);
    this.countChild(path);
    return node;
  }

  /** The file or symlink now at `path`, for a hard link to it (undefined: a directory or nothing). */
  linkTarget(path: string): StagedNode | undefined {
    const node = this.nodes.get(path);
    return node && !isDirectory(node.dirent) ? node : undefined;
  }

  /**
   * The staged entries, contents stored: the root first, then the nested-catalog marker (whose
   * empty content is `marker`), then the tarball's entries in tar order. A root the tarball did
   * not list gets the newest modification time of its members.
   */
  async entries(marker: IngestedContent): Promise<{ entries: Dirent[]; files: number; bytes: number }> {
    const out: Dirent[] = [];
    let files = 0;
    let bytes = 0;
    let newest = 0;
    for (const node of this.nodes.values()) {
      let dirent = node.dirent;
      if (node.content) {
        const stored = await node.content;
        dirent = { ...dirent, size: stored.size, hash: stored.hash, chunks: stored.chunks };
        files++;
        bytes += stored.size;
      }
      newest = Math.max(newest, dirent.mtime);
      out.push(dirent);
    }
    let root = out[0] as Dirent;
    if (!this.rootListed) {
      root = { ...root, mtime: newest };
      out[0] = root;
    }
    out.splice(1, 0, markerEntry(marker, root.mtime, this.algorithm));
    return { entries: out, files, bytes };
  }

  /** Makes the directories on the way to `path` that the tarball did not list. */
  private ensureParents(path: string, mtime: number, place: EntryPlace): void {
    const missing: string[] = [];
    let parent = parentOf(path);
    while (parent !== '' && !this.nodes.has(parent)) {
      missing.push(parent);
      parent = parentOf(parent);
    }
    const existing = (this.nodes.get(parent) as StagedNode).dirent;
    if (!isDirectory(existing)) {
      throw tarballError(
        'TAR_NAME_INVALID',
        `its parent ${JSON.stringify(parent)} is a ${entryKind(existing.mode)}, not a directory`,
        place,
      );
    }
    for (const dir of missing.reverse()) {
      this.nodes.set(dir, { dirent: impliedDirectory(dir, mtime, this.algorithm) });
      this.countChild(dir);
      this.implied++;
    }
  }

  private countChild(path: string): void {
    const parent = parentOf(path);
    this.kids.set(parent, (this.kids.get(parent) ?? 0) + 1);
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}
