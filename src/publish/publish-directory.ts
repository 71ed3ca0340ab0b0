import { type Dirent, S_IFDIR, S_IFMT, S_IFREG } from '../catalog/index.js';
import type { HashAlgorithm } from '../object/index.js';
import type { ObjectWriter } from './object-writer.js';
import type { ContentRef, PublishState, StatKey } from './publish-state.js';
import { runPool } from './run-pool.js';
import { catalogSize, type ScannedEntry, scanDirectory } from './scan-directory.js';
import type { WorkingTree } from './working-tree.js';

/** Counts of one directory publish. */
export interface DirectoryPublishStats {
  entries: number;
  filesIngested: number;
  filesUnchanged: number;
  removed: number;
}

/** Options of publishDirectory. */
export interface PublishDirectoryOptions {
  algorithm: HashAlgorithm;
  state?: PublishState;
  /** Files ingested at once (each compresses on the thread pool). */
  concurrency?: number;
  /** Progress events, for a terminal display or a log. */
  onProgress?: (event: PublishProgress) => void | Promise<void>;
  /** The source, already scanned (with xattrs); scanned here otherwise. */
  scanned?: ScannedEntry[];
}

/** A step of a directory publish: the scan is done, or one more file was ingested. */
export type PublishProgress =
  | { phase: 'scanned'; entries: number; toIngest: number; bytesToIngest: number }
  | { phase: 'ingested'; file: string; bytes: number };

/** Stat cache records to save once the revision is committed. */
export type StatRecords = { file: string; key: StatKey; content: ContentRef }[];

/**
 * Makes the subtree at `at` equal to the source directory: entries that changed are put (file
 * content ingested only when the stat cache cannot vouch for it), entries gone from the source
 * are removed, missing parent directories of `at` are created. Everything is read and stored
 * before the tree is touched, so a source error leaves the tree as it was.
 */
export async function publishDirectory(
  tree: WorkingTree,
  writer: ObjectWriter,
  source: string,
  at: string,
  options: PublishDirectoryOptions,
): Promise<{ stats: DirectoryPublishStats; statRecords: StatRecords }> {
  const scanned = options.scanned ?? scanDirectory(source, at);
  const stats: DirectoryPublishStats = {
    entries: scanned.length,
    filesIngested: 0,
    filesUnchanged: 0,
    removed: 0,
  };
  const existing = new Map<string, Dirent>();
  if (await tree.get(at)) for (const d of await listSubtree(tree, at)) existing.set(d.path, d);

  // 1. Content for every regular file: from the stat cache, or ingested.
  const contents = new Map<string, ContentRef>();
  const statRecords: StatRecords = [];
  const toIngest: ScannedEntry[] = [];
  for (const e of scanned) {
    if ((Number(e.stat.mode) & S_IFMT) !== S_IFREG) continue;
    const key = statKey(e);
    const cached = options.state?.lookupStat(e.abs, key);
    const old = existing.get(e.path);
    if (cached && (sameContent(cached, old) || (await writer.hasContent(cached)))) {
      contents.set(e.path, cached);
      stats.filesUnchanged++;
    } else {
      toIngest.push(e);
    }
  }
  await options.onProgress?.({
    phase: 'scanned',
    entries: scanned.length,
    toIngest: toIngest.length,
    bytesToIngest: toIngest.reduce((n, e) => n + Number(e.stat.size), 0),
  });
  await runPool(toIngest, options.concurrency ?? 16, async (e) => {
    const content = await writer.ingestFile(e.abs, { size: e.stat.size, mtimeNs: e.stat.mtimeNs });
    const ref: ContentRef = { hash: content.hash, chunks: content.chunks, size: content.size };
    contents.set(e.path, ref);
    statRecords.push({ file: e.abs, key: statKey(e), content: ref });
    stats.filesIngested++;
    await options.onProgress?.({ phase: 'ingested', file: e.abs, bytes: content.size });
  });

  // 2. Parents of `at` that do not exist yet.
  await ensureParents(tree, at, options.algorithm);

  // 3. Removals, then puts parents first. Hardlinks: same inode within one directory.
  const present = new Set(scanned.map((e) => e.path));
  for (const path of existing.keys()) {
    if (!present.has(path) && present.has(path.slice(0, path.lastIndexOf('/')) || '')) {
      await tree.remove(path);
      stats.removed++;
    }
  }
  // Hard links are published as separate files sharing one content object, as cvmfs_server
  // does: the 2.11.5 client keeps the shared inode of a hardlink group across a remount, so a
  // group broken up by a later revision would serve stale content (seen with the real client).
  for (const e of scanned) {
    const isFile = (Number(e.stat.mode) & S_IFMT) === S_IFREG;
    const content = isFile ? contents.get(e.path) : undefined;
    await tree.put(toDirent(e, content, options.algorithm));
  }
  return { stats, statRecords };
}

/** Every entry at and below `path` in the tree, across nested catalogs. */
export async function listSubtree(tree: WorkingTree, path: string): Promise<Dirent[]> {
  const out: Dirent[] = [];
  const stack = [path];
  while (stack.length > 0) {
    const p = stack.pop() as string;
    const d = await tree.get(p);
    if (!d) continue;
    out.push(d);
    if ((d.mode & S_IFMT) === S_IFDIR) for (const kid of await tree.list(p)) stack.push(kid.path);
  }
  return out;
}

async function ensureParents(tree: WorkingTree, at: string, algorithm: HashAlgorithm): Promise<void> {
  if (at === '') return;
  let prefix = '';
  const parts = at.slice(1).split('/');
  for (const part of parts.slice(0, -1)) {
    prefix = `${prefix}/${part}`;
    if (await tree.get(prefix)) continue;
    await tree.put(directoryEntry(prefix, algorithm));
  }
}

/** A plain directory entry (0755, owned by the publishing user, mtime now). */
export function directoryEntry(path: string, algorithm: HashAlgorithm): Dirent {
  return {
    path,
    name: path === '' ? '' : path.slice(path.lastIndexOf('/') + 1),
    mode: S_IFDIR | 0o755,
    size: 4096,
    mtime: Math.floor(Date.now() / 1000),
    mtimeNs: null,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    linkcount: 2,
    hardlinkGroup: 0,
    hash: null,
    hashAlgorithm: algorithm,
    uncompressed: false,
    symlink: '',
    chunks: [],
    xattrs: null,
    nestedMountpoint: false,
    nestedRoot: false,
    hidden: false,
    external: false,
    directIo: false,
    bindMountpoint: false,
  };
}

function toDirent(e: ScannedEntry, content: ContentRef | undefined, algorithm: HashAlgorithm): Dirent {
  return {
    ...directoryEntry(e.path, algorithm),
    name: e.name,
    mode: Number(e.stat.mode),
    linkcount: 1,
    size: catalogSize(e),
    mtime:
      Number(e.stat.mtimeNs / 1_000_000_000n) -
      (e.stat.mtimeNs < 0n && e.stat.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0),
    uid: Number(e.stat.uid),
    gid: Number(e.stat.gid),
    hash: content?.hash ?? null,
    chunks: content?.chunks ?? [],
    symlink: e.target ?? '',
    xattrs: e.xattrs,
  };
}

function statKey(e: ScannedEntry): StatKey {
  return {
    dev: e.stat.dev,
    ino: e.stat.ino,
    size: e.stat.size,
    mtimeNs: e.stat.mtimeNs,
    ctimeNs: e.stat.ctimeNs,
  };
}

function sameContent(ref: ContentRef, d: Dirent | undefined): boolean {
  if (!d || ref.hash !== d.hash || ref.chunks.length !== d.chunks.length) return false;
  return ref.chunks.every((c, i) => c.hash === d.chunks[i]?.hash && c.offset === d.chunks[i]?.offset);
}
