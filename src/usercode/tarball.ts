import { type Dirent, parentPath, S_IFLNK, S_IFMT } from '../catalog/index.js';
import { BargeError, isBargeError } from '../error/index.js';
import {
  decompressLayer,
  readTar,
  SymlinkTracker,
  type TarEntry,
  WHITEOUT_PREFIX,
} from '../image/layer/index.js';
import type { HashAlgorithm } from '../object/index.js';
import {
  CATALOG_MARKER,
  directoryEntry,
  type IngestedContent,
  type ObjectWriter,
  validatePath,
  type WorkingTree,
} from '../publish/index.js';
import { tarballDirent } from './tarball-entry.js';
import { asTarballError, tarballError } from './tarball-error.js';
import { NAME_MAX, resolveTarballLimits, type TarballLimits } from './tarball-limits.js';
import { type TarballBody, TarballMeter } from './tarball-meter.js';
import { type EntryPlace, TarballTree } from './tarball-tree.js';

/** An upload read to its end without error, its contents stored as objects, not yet in any tree. */
export interface StagedTarball {
  /** Hex SHA-256 of the raw uploaded bytes (the upload's id, as RCDS names them). */
  sha256: string;
  /** Bytes uploaded. */
  compressedBytes: number;
  /**
   * What the upload publishes, paths relative to the upload root without a leading slash
   * (`bin/run.sh`), parents before children: the root itself first (path ''), then the
   * `.cvmfscatalog` marker that makes the upload its own nested catalog, then the members in tar
   * order, directories the tarball only implies included. Contents are already stored.
   */
  entries: Dirent[];
  /** Regular files published (a hard link counts as the separate file it is published as). */
  files: number;
  /** Uncompressed bytes of those files. */
  bytes: number;
}

/** Options of stageTarball. */
export interface StageTarballOptions {
  writer: ObjectWriter;
  algorithm: HashAlgorithm;
  /** Overrides of DEFAULT_TARBALL_LIMITS. */
  limits?: Partial<TarballLimits>;
  /** Names the upload in errors (e.g. `<group>/<sha256>`); default `upload`. */
  label?: string;
}

/** Small contents compressing while the next members are read, at most this many... */
const IN_FLIGHT_FILES = 32;
/** ...and at most this many bytes of them held in memory. */
const IN_FLIGHT_BYTES = 64 << 20;
/** Contents up to this size are gathered whole, larger ones stream through the chunker. */
const WHOLE_CONTENT_MAX = 4 << 20;

/**
 * Reads an uploaded tarball (plain or compressed, sniffed as image layers are) as it streams in,
 * refusing anything hostile or over a limit, and stores its file contents as objects through `writer`.
 * Nothing is put in any tree: the caller applies the result with applyStagedTarball, so an
 * upload refused halfway changes nothing visible (the objects it already stored are garbage for
 * gc). Refused, each with its own code and a message naming the member: names leaving the root
 * (`..`, absolute names), members through a symlinked parent, hard links to anything but an
 * earlier file or symlink of the tarball, device nodes and FIFOs, OCI whiteout names, and the
 * limits of TarballLimits; input that is empty, not a tar, or cut short.
 */
export async function stageTarball(body: TarballBody, options: StageTarballOptions): Promise<StagedTarball> {
  const { writer, algorithm } = options;
  const label = options.label ?? 'upload';
  const limits = resolveTarballLimits(options.limits);
  const meter = new TarballMeter(limits, label);
  const tree = new TarballTree(algorithm);
  const symlinks = new SymlinkTracker();
  const inFlight = new InFlight();
  let seen = 0;
  try {
    const tar = meter.inflate(decompressLayer(meter.raw(body), { label }));
    for await (const e of readTar(tar, { label, absolute: 'refuse' })) {
      meter.entry = e.path;
      const place: EntryPlace = { label, entry: e.path, offset: e.offset };
      seen++;
      checkEntry(e, limits, place, seen + tree.implied);
      const through = symlinks.symlinkedParent(e.path);
      if (through !== undefined) {
        throw tarballError('TAR_SYMLINK_PARENT', `its parent ${JSON.stringify(through)} is a symlink`, place);
      }
      if (isMarker(e, place)) continue;
      if (e.type === 'hardlink') {
        // Published as a separate file (or symlink) with the target's content and metadata, as
        // barge publishes every hard link; the target must be an earlier member, as it is now.
        const target = e.linkname === e.path ? undefined : tree.linkTarget(e.linkname);
        if (target === undefined) {
          throw tarballError(
            'TAR_LINK_INVALID',
            `hard link target ${JSON.stringify(e.linkname)} is not an earlier file or symlink of the tarball`,
            place,
          );
        }
        const node = tree.add({ ...target.dirent, path: e.path, name: baseName(e.path) }, place);
        if (target.content) node.content = target.content;
        symlinks.record(e.path, (target.dirent.mode & S_IFMT) === S_IFLNK ? 'symlink' : 'file');
      } else {
        const node = tree.add(tarballDirent(e, algorithm), place);
        symlinks.record(e.path, e.type);
        if (e.type === 'file') node.content = (await inFlight.store(e, writer, place)).stored;
      }
      if (seen + tree.implied > limits.maxEntries) throw tooManyEntries(limits, place);
    }
    if (!meter.complete) {
      throw tarballError('TARBALL_INVALID', 'there is data after the end of its compressed stream', {
        label,
      });
    }
    const marker = await writer.ingestBuffer(Buffer.alloc(0));
    const { entries, files, bytes } = await tree.entries(marker);
    return { sha256: meter.digest(), compressedBytes: meter.compressed, entries, files, bytes };
  } catch (err) {
    // Nothing may still be writing objects once the caller hears of the refusal.
    await inFlight.settle();
    if (meter.compressed === 0 && isBargeError(err, 'LAYER_CORRUPT')) {
      throw tarballError('TARBALL_INVALID', 'the upload is empty', { label }, { cause: err });
    }
    throw asTarballError(err, label);
  }
}

/**
 * Stores file contents. Small ones are gathered and compressed in the background while the next
 * members are read (bounded in number and bytes); large ones stream through the chunker, which
 * reads them from the tar stream as it goes.
 */
class InFlight {
  private readonly window: { content: Promise<unknown>; bytes: number }[] = [];
  private bytes = 0;

  /** Starts storing the entry's content (wrapped: an async function cannot return a pending promise). */
  async store(
    e: TarEntry,
    writer: ObjectWriter,
    place: EntryPlace,
  ): Promise<{ stored: Promise<IngestedContent> }> {
    if (e.size > Math.min(writer.wholeObjectLimit, WHOLE_CONTENT_MAX)) {
      const what = `tarball ${place.label}, entry ${JSON.stringify(place.entry)}`;
      return { stored: Promise.resolve(await writer.ingestStream(e.content, e.size, what)) };
    }
    const parts: Buffer[] = [];
    for await (const chunk of e.content) parts.push(chunk);
    const content = writer.ingestBuffer(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
    // Failures surface when the entries are listed (or are settled after a refusal).
    content.catch(() => {});
    this.window.push({ content, bytes: e.size });
    this.bytes += e.size;
    while (this.window.length > IN_FLIGHT_FILES || this.bytes > IN_FLIGHT_BYTES) {
      const oldest = this.window.shift()!;
      this.bytes -= oldest.bytes;
      await oldest.content.catch(() => {});
    }
    return { stored: content };
  }

  /** Waits for the contents still being stored (only those in the window can be), failed or not. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.window.map((w) => w.content));
  }
}

/** The limits and refusals that the header alone decides, checked before any content is read. */
function checkEntry(e: TarEntry, limits: TarballLimits, place: EntryPlace, entries: number): void {
  if (entries > limits.maxEntries) throw tooManyEntries(limits, place);
  const length = Buffer.byteLength(e.path);
  if (length > limits.maxPathLength) {
    throw tarballError(
      'TARBALL_PATH_TOO_LONG',
      `its path is ${length} bytes long, over the limit of ${limits.maxPathLength}`,
      place,
    );
  }
  for (const part of e.path.split('/')) {
    if (Buffer.byteLength(part) > NAME_MAX) {
      throw tarballError(
        'TARBALL_PATH_TOO_LONG',
        `a name in its path is ${Buffer.byteLength(part)} bytes long, over the ${NAME_MAX} a file system allows`,
        place,
      );
    }
    // OCI image whiteouts would mean "delete" to an image tool and are an illegal name to one;
    // in a user tarball they mean nothing, so they are refused rather than guessed at.
    if (part.startsWith(WHITEOUT_PREFIX)) {
      throw tarballError(
        'TAR_NAME_INVALID',
        `OCI whiteout names (".wh.*") are not allowed in a user tarball`,
        place,
      );
    }
  }
  if (e.type === 'symlink' && Buffer.byteLength(e.linkname) > limits.maxPathLength) {
    throw tarballError(
      'TARBALL_PATH_TOO_LONG',
      `its symlink target is ${Buffer.byteLength(e.linkname)} bytes long, over the limit of ${limits.maxPathLength}`,
      place,
    );
  }
  if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
    const kind = e.type === 'fifo' ? 'a FIFO' : `a ${e.type} device node`;
    throw tarballError('TARBALL_UNSUPPORTED_ENTRY', `it is ${kind}, which user code never needs`, place);
  }
  if (e.size > limits.maxMemberBytes) {
    throw tarballError(
      'TARBALL_MEMBER_TOO_LARGE',
      `it is ${e.size} bytes, over the limit of ${limits.maxMemberBytes} for one member`,
      place,
      { details: { size: e.size, limit: limits.maxMemberBytes } },
    );
  }
}

/**
 * Whether the member is a `.cvmfscatalog` marker, which is then left out: catalog boundaries are
 * barge's (one nested catalog per upload), not the uploader's, and a tarball of a directory copied
 * out of a repository carries them. A marker name on anything but a file is refused.
 */
function isMarker(e: TarEntry, place: EntryPlace): boolean {
  if (baseName(e.path) !== CATALOG_MARKER) return false;
  if (e.type === 'file' || e.type === 'hardlink') return true;
  throw tarballError('TAR_NAME_INVALID', `${CATALOG_MARKER} is reserved for catalog markers`, place);
}

function tooManyEntries(limits: TarballLimits, place: EntryPlace): BargeError {
  return tarballError(
    'TARBALL_TOO_MANY_ENTRIES',
    `the tarball has more than ${limits.maxEntries} entries (directories it implies included)`,
    place,
  );
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Puts a staged upload at `root` (e.g. `/user/<group>/<sha256>`) of a working tree, replacing
 * whatever is there: missing parent directories are made (0755, owned by root), then every
 * staged entry, the root and its `.cvmfscatalog` marker first, so the upload becomes its own
 * nested catalog at commit. Nothing is read or stored: the contents are objects already.
 */
export async function applyStagedTarball(
  tree: WorkingTree,
  root: string,
  staged: StagedTarball,
  algorithm: HashAlgorithm,
): Promise<void> {
  validatePath(root);
  if (root === '') {
    throw new BargeError('INVALID_PATH', 'an upload cannot replace the repository root', {
      hint: 'publish uploads below a directory such as /user/<group>/<sha256>',
    });
  }
  const other = staged.entries.find((d) => d.hashAlgorithm !== algorithm);
  if (other) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      `the upload was staged with ${other.hashAlgorithm} hashes, the repository uses ${algorithm}`,
      { hint: 'stage uploads with the hash algorithm of the repository they go to' },
    );
  }
  if (await tree.get(root)) await tree.remove(root);
  await ensureParents(tree, parentPath(root), algorithm);
  const name = baseName(root);
  for (const d of staged.entries) {
    await tree.put(d.path === '' ? { ...d, path: root, name } : { ...d, path: `${root}/${d.path}` });
  }
}

/** Makes every missing directory on the way to `dir` (mode 0755, owned by root). */
async function ensureParents(tree: WorkingTree, dir: string, algorithm: HashAlgorithm): Promise<void> {
  if (dir === '' || (await tree.get(dir))) return;
  await ensureParents(tree, parentPath(dir), algorithm);
  await tree.put({ ...directoryEntry(dir, algorithm), uid: 0, gid: 0 });
}
