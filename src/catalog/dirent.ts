import type { HashAlgorithm, HashText } from '../object/index.js';

/** One chunk of a chunked file: uncompressed offset and size, and the hash of its `P` object. */
export interface Chunk {
  offset: number;
  size: number;
  hash: HashText;
}

/**
 * One row of a catalog's `catalog` table, decoded. `path` is the absolute path inside the
 * repository ('' for the root). The entry type comes from `mode`, as the client takes it.
 */
export interface Dirent {
  path: string;
  /** Basename; '' for the repository root. */
  name: string;
  /** Full st_mode, type bits included. */
  mode: number;
  /** Regular files: uncompressed size; directories: st_size; symlinks: target length; devices: rdev. */
  size: number;
  mtime: number;
  /** Nanosecond part of mtime, or null (schema revision 7 column). */
  mtimeNs: number | null;
  uid: number;
  gid: number;
  /** Link count (low 32 bits of `hardlinks`). */
  linkcount: number;
  /** Hardlink group (high 32 bits of `hardlinks`); 0 = none. */
  hardlinkGroup: number;
  /** Content hash of a regular file's object; null for the rest and for chunked files without a bulk hash. */
  hash: HashText | null;
  /** Algorithm of the hash / chunks (flags bits 8–10). */
  hashAlgorithm: HashAlgorithm;
  /** Whether the file object is stored uncompressed (flags bits 11–13 = 1). */
  uncompressed: boolean;
  /** Symlink target; '' otherwise. */
  symlink: string;
  /** Chunks of a chunked file, ascending by offset; empty otherwise. */
  chunks: Chunk[];
  /** User xattrs (bytewise-sorted keys); null when none. */
  xattrs: Map<string, Buffer> | null;
  /** Flag bits other than type, hash and compression: nested mountpoint/root, hidden, external, direct I/O, bind mountpoint. */
  nestedMountpoint: boolean;
  nestedRoot: boolean;
  hidden: boolean;
  external: boolean;
  directIo: boolean;
  bindMountpoint: boolean;
}

/** A `nested_catalogs` row: the mountpoint path, the catalog hash, its uncompressed size. */
export interface NestedCatalogRef {
  path: string;
  hash: HashText;
  size: number;
}

/** File type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** The entry kinds a repository can hold. */
export type EntryKind = 'directory' | 'file' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** The kind of an entry from its mode, as the client decides it. */
export function entryKind(mode: number): EntryKind {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    case S_IFCHR:
      return 'char';
    case S_IFBLK:
      return 'block';
    default:
      return 'file';
  }
}

/** The parent path of a repository path ('' for children of the root). */
export function parentPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '' : p.slice(0, i);
}
