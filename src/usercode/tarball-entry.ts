import { type Dirent, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../catalog/index.js';
import type { TarEntry } from '../image/layer/index.js';
import type { HashAlgorithm } from '../object/index.js';
import { CATALOG_MARKER, type ContentRef, directoryEntry } from '../publish/index.js';

/** CVMFS clients expose `user.*` extended attributes only, each value at most 255 bytes (spec §6.6). */
const XATTR_VALUE_MAX = 255;

/**
 * The permission bits an upload's member is published with.
 *
 * - setuid and setgid are dropped: everything is published owned by root (below), so a user's
 *   setuid binary would otherwise become a setuid-root one on any client mounting with suid.
 * - Everything is made readable by all, and executable by all where the owner may execute
 *   (`chmod a+rX`): a public repository hides nothing from anyone (its objects are served over
 *   plain HTTP), and a 0600 file or 0700 directory owned by root would be unreadable to the job
 *   on a client that does not claim ownership (CVMFS_CLAIM_OWNERSHIP=no).
 * - The rest (write bits, the sticky bit) is kept as the tarball says.
 */
export function publishedMode(type: 'file' | 'directory', mode: number): number {
  let perm = mode & 0o1777;
  perm |= 0o444;
  if (type === 'directory' || perm & 0o100) perm |= 0o111;
  return (type === 'directory' ? S_IFDIR : S_IFREG) | perm;
}

/**
 * The catalog entry for a file, directory or symlink of an upload, at its path relative to the
 * upload root (content hashes are filled in once the content is stored).
 *
 * Ownership: uid and gid 0, whatever the tarball says. The uploader's numeric ids mean nothing on
 * grid worker nodes (cvmfs-user-pub likewise unpacks as the repository's publishing user, not as
 * the uploader), and clients show their own user as the owner anyway (CVMFS_CLAIM_OWNERSHIP, on
 * by default).
 * Modification times are kept (whole seconds, as the catalogs store them); extended attributes
 * are kept when CVMFS can carry them (`user.*`, values up to 255 bytes) and dropped otherwise,
 * as for image layers.
 */
export function tarballDirent(e: TarEntry, algorithm: HashAlgorithm): Dirent {
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of e.xattrs) {
    if (k.startsWith('user.') && v.length <= XATTR_VALUE_MAX && Buffer.byteLength(k) <= 255) xattrs.set(k, v);
  }
  const base: Dirent = {
    ...directoryEntry(e.path, algorithm),
    mtime: e.mtime,
    uid: 0,
    gid: 0,
    linkcount: 1,
    xattrs: xattrs.size > 0 ? xattrs : null,
  };
  if (e.type === 'directory') return { ...base, mode: publishedMode('directory', e.mode), size: 4096 };
  // Linux gives every symlink mode 0777; what the tarball stored for it has no meaning.
  if (e.type === 'symlink')
    return { ...base, mode: S_IFLNK | 0o777, size: Buffer.byteLength(e.linkname), symlink: e.linkname };
  return { ...base, mode: publishedMode('file', e.mode), size: e.size };
}

/** A directory the tarball implies but does not list (`a/b/c` without `a/`): 0755, as tar makes it. */
export function impliedDirectory(path: string, mtime: number, algorithm: HashAlgorithm): Dirent {
  return { ...directoryEntry(path, algorithm), mode: S_IFDIR | 0o755, mtime, uid: 0, gid: 0 };
}

/** True when the entry is a directory. */
export function isDirectory(d: Dirent): boolean {
  return (d.mode & S_IFMT) === S_IFDIR;
}

/** The `.cvmfscatalog` marker at the upload root that makes the upload its own nested catalog. */
export function markerEntry(content: ContentRef, mtime: number, algorithm: HashAlgorithm): Dirent {
  return {
    ...directoryEntry(CATALOG_MARKER, algorithm),
    mode: S_IFREG | 0o644,
    size: 0,
    mtime,
    uid: 0,
    gid: 0,
    linkcount: 1,
    hash: content.hash,
    chunks: content.chunks,
  };
}
