import { type Dirent, S_IFLNK, S_IFMT, S_IFREG } from '../catalog/index.js';
import type { HashAlgorithm } from '../object/index.js';
import { makedev } from '../posix/index.js';
import {
  CATALOG_MARKER,
  type ContentRef,
  directoryEntry,
  type ObjectWriter,
  type WorkingTree,
} from '../publish/index.js';
import {
  type ImageSource,
  type LayerEntry,
  readLayer,
  SymlinkTracker,
  type TarEntry,
} from './layer/index.js';

/** What a flatten did. */
export interface FlattenStats {
  layers: number;
  entries: number;
  files: number;
  bytes: number;
  whiteouts: number;
  /** xattrs CVMFS cannot carry (not `user.*`, or values over 255 bytes), dropped. */
  droppedXattrs: number;
}

/** Options of flattenImage. */
export interface FlattenOptions {
  tree: WorkingTree;
  writer: ObjectWriter;
  /** Repository path of the flat root, e.g. `/.flat/ab/ab12…`. */
  root: string;
  algorithm: HashAlgorithm;
  /** Small files compressing while the next entries are read. */
  inFlight?: number;
  onLayer?: (index: number, stats: FlattenStats) => void;
  /**
   * The root already holds the flattened first `layers` layers (copied from an image with the same
   * layer chain): those are not read again, only the layers above them.
   */
  base?: { layers: number };
}

type Op =
  | { kind: 'put'; entry: Dirent; content?: Promise<ContentRef> }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; path: string };

const XATTR_VALUE_MAX = 255;

/**
 * Applies an image's layers in order straight into the working tree under `root`, in one pass and
 * without unpacking anything to disk: file contents stream from the layer into objects, entries
 * become catalog rows, whiteouts and opaque directories remove what lower layers put there.
 * A layer's changes are applied only after its whole blob has been read and its digest verified,
 * and in tar order, so that a whiteout hides only lower layers (OCI image spec, layer.md).
 */
export async function flattenImage(image: ImageSource, options: FlattenOptions): Promise<FlattenStats> {
  const { tree, root } = options;
  const stats: FlattenStats = { layers: 0, entries: 0, files: 0, bytes: 0, whiteouts: 0, droppedXattrs: 0 };
  const skip = options.base?.layers ?? 0;
  let symlinks: SymlinkTracker;
  if (skip > 0) {
    // Symlinks of the copied base count as lower layers: no later entry may write through them.
    const prefix = `${root}/`;
    const links = new Set(
      (await tree.subtree(root))
        .filter((d) => (d.mode & S_IFMT) === S_IFLNK)
        .map((d) => d.path.slice(prefix.length)),
    );
    symlinks = new SymlinkTracker({ lower: (p) => links.has(p) });
  } else {
    if (await tree.get(root)) await tree.remove(root);
    await ensureDirectories(tree, root, options.algorithm);
    await tree.put({ ...directoryEntry(root, options.algorithm), uid: 0, gid: 0 });
    // A catalog from the start: the image's entries then go straight into it, instead of being
    // moved there from the parent catalog at commit (1.5 s for the 14,000 of bench/images' base).
    await putMarker(options);
    await tree.restructure();
    symlinks = new SymlinkTracker();
  }
  const { writer } = options;
  for (const [index, layer] of image.layers.entries()) {
    if (index < skip) continue;
    const ops: Op[] = [];
    const puts = new Map<string, Extract<Op, { kind: 'put' }>>();
    const pending: Promise<unknown>[] = [];
    const blob = await layer.open();
    for await (const e of readLayer(blob, { digest: layer.digest, symlinks })) {
      stats.entries++;
      const op = await toOp(e, options, stats, puts);
      if (op.kind === 'put') {
        puts.set(op.entry.path, op);
        if (op.content) {
          // Keep compression off the reading path, bounded; failures surface when applied.
          op.content.catch(() => {});
          if (writer.pooled) {
            // Worker threads: bounded by the bytes they have not stored yet.
            const wait = writer.ready();
            if (wait) await wait;
          } else {
            pending.push(op.content);
            if (pending.length > (options.inFlight ?? 32)) await pending.shift()?.catch(() => {});
          }
        }
      }
      ops.push(op);
    }
    await applyLayer(tree, root, ops, options.algorithm);
    symlinks.endLayer();
    stats.layers++;
    options.onLayer?.(index, stats);
  }
  // The flat root is its own nested catalog, as DUCC cuts them (one catalog per image), whatever
  // the layers did to a marker of their own.
  await putMarker(options);
  return stats;
}

async function putMarker(options: FlattenOptions): Promise<void> {
  await options.tree.put({
    ...fileEntry(`${options.root}/${CATALOG_MARKER}`, options.algorithm),
    hash: (await options.writer.ingestBuffer(Buffer.alloc(0))).hash,
  });
}

async function toOp(
  e: LayerEntry,
  options: FlattenOptions,
  stats: FlattenStats,
  puts: ReadonlyMap<string, Extract<Op, { kind: 'put' }>>,
): Promise<Op> {
  const path = e.path === '' ? options.root : `${options.root}/${e.path}`;
  if (e.type === 'whiteout') {
    stats.whiteouts++;
    return { kind: 'whiteout', path };
  }
  if (e.type === 'opaque') return { kind: 'opaque', path };
  const entry = direntOf(e, path, options.algorithm, stats);
  if (e.type === 'hardlink') {
    // The target is an earlier entry of this layer (readLayer checks): the same content and metadata.
    const target = puts.get(`${options.root}/${e.linkname}`);
    if (target)
      return {
        kind: 'put',
        entry: { ...target.entry, path, name: entry.name },
        ...(target.content ? { content: target.content } : {}),
      };
    return { kind: 'put', entry };
  }
  if (e.type !== 'file') return { kind: 'put', entry };
  stats.files++;
  stats.bytes += e.size;
  // Small files are gathered whole (bounded: at most the chunking threshold, 4 MiB by default).
  if (e.size <= Math.min(options.writer.wholeObjectLimit, 4 << 20)) {
    const parts: Buffer[] = [];
    for await (const b of e.content) parts.push(b);
    return { kind: 'put', entry, content: options.writer.ingestParts(parts, e.size) };
  }
  // Large content streams through the chunker while the layer is read; its last chunks may
  // still compress when the next entry is read.
  const { content } = await options.writer.startStream(e.content, e.size, `${path} in layer ${options.root}`);
  return { kind: 'put', entry, content };
}

async function applyLayer(
  tree: WorkingTree,
  root: string,
  ops: Op[],
  algorithm: HashAlgorithm,
): Promise<void> {
  // Paths this layer put, and all their ancestors: whiteouts and opaque markers leave those alone.
  const touched = new Set<string>();
  const markTouched = (p: string) => {
    for (let q = p; q.length >= root.length && !touched.has(q); q = q.slice(0, q.lastIndexOf('/')))
      touched.add(q);
  };
  for (const op of ops) {
    if (op.kind === 'put') {
      await ensureDirectories(tree, op.entry.path.slice(0, op.entry.path.lastIndexOf('/')), algorithm);
      const content = op.content ? await op.content : undefined;
      // A directory over an existing directory keeps what lower layers put inside; anything else replaces.
      await tree.put(content ? { ...op.entry, hash: content.hash, chunks: content.chunks } : op.entry);
      markTouched(op.entry.path);
    } else if (op.kind === 'whiteout') {
      await removeLower(tree, op.path, touched, true);
    } else {
      await removeLower(tree, op.path, touched, false);
    }
  }
}

/** Removes what lower layers put at `path` (and below), keeping what this layer put. */
async function removeLower(
  tree: WorkingTree,
  path: string,
  touched: Set<string>,
  includeSelf: boolean,
): Promise<void> {
  if (!touched.has(path)) {
    if (includeSelf) await tree.remove(path);
    else for (const kid of await tree.list(path)) await tree.remove(kid.path);
    return;
  }
  const below = (await tree.subtree(path)).map((d) => d.path).filter((p) => p !== path || includeSelf);
  for (const p of below.sort((a, b) => b.length - a.length)) {
    if (!touched.has(p)) await tree.remove(p);
  }
}

/** Makes every missing directory on the way to `dir` (mode 0755, owned by root), as container runtimes do. */
export async function ensureDirectories(
  tree: WorkingTree,
  dir: string,
  algorithm: HashAlgorithm,
): Promise<void> {
  if (dir === '' || (await tree.get(dir))) return;
  await ensureDirectories(tree, dir.slice(0, dir.lastIndexOf('/')), algorithm);
  await tree.put({ ...directoryEntry(dir, algorithm), uid: 0, gid: 0 });
}

function direntOf(e: TarEntry, path: string, algorithm: HashAlgorithm, stats: FlattenStats): Dirent {
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of e.xattrs) {
    // CVMFS clients expose user.* attributes only, each value at most 255 bytes (spec §6.6).
    if (k.startsWith('user.') && v.length <= XATTR_VALUE_MAX && Buffer.byteLength(k) <= 255) xattrs.set(k, v);
    else stats.droppedXattrs++;
  }
  const base = fileEntry(path, algorithm);
  let size = 0;
  if (e.type === 'file' || e.type === 'hardlink') size = e.size;
  else if (e.type === 'directory') size = 4096;
  else if (e.type === 'symlink') size = Buffer.byteLength(e.linkname);
  else if (e.type === 'char' || e.type === 'block') size = makedev(e.devmajor, e.devminor);
  return {
    ...base,
    mode: e.mode,
    size,
    mtime: e.mtime,
    uid: e.uid,
    gid: e.gid,
    symlink: e.type === 'symlink' ? e.linkname : '',
    xattrs: xattrs.size > 0 ? xattrs : null,
  };
}

function fileEntry(path: string, algorithm: HashAlgorithm): Dirent {
  return { ...directoryEntry(path, algorithm), mode: S_IFREG | 0o644, size: 0, uid: 0, gid: 0, linkcount: 1 };
}
