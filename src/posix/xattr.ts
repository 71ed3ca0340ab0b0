import { errnoCode } from '../error/index.js';
import { posixAddon } from './native-addon.js';

/** A path as the addon takes it: a string, or raw bytes for names that are not valid UTF-8. */
export type PosixPath = string | Uint8Array;

/** The names of all extended attributes of `path` (any namespace), without following a symlink. */
export function listXattrs(path: PosixPath): string[] {
  return posixAddon().listXattrs(path);
}

/** The value of xattr `name` of `path`, without following a symlink; ENODATA when absent. */
export function getXattr(path: PosixPath, name: string): Buffer {
  return posixAddon().getXattr(path, name);
}

/** Creates or replaces xattr `name` of `path`, without following a symlink. */
export function setXattr(path: PosixPath, name: string, value: Uint8Array): void {
  posixAddon().setXattr(path, name, value);
}

/** Removes xattr `name` of `path`, without following a symlink; ENODATA when absent. */
export function removeXattr(path: PosixPath, name: string): void {
  posixAddon().removeXattr(path, name);
}

/** Bytewise order of UTF-8 names: the order CVMFS stores xattrs in, unlike JS's UTF-16 order. */
function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The `user.*` xattrs of `path` (the only namespace CVMFS publishes; security.* and trusted.*
 * belong to the machine), keys sorted bytewise; null when there are none or the filesystem
 * does not support xattrs.
 */
export function readUserXattrs(path: PosixPath): Map<string, Buffer> | null {
  let names: string[];
  try {
    names = listXattrs(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOTSUP') return null;
    throw err;
  }
  const result = new Map<string, Buffer>();
  for (const name of names.filter((n) => n.startsWith('user.')).sort(compareBytewise)) {
    try {
      result.set(name, getXattr(path, name));
    } catch (err) {
      // Removed between the list and the read: it is gone, which is what a later read would say.
      if (errnoCode(err) !== 'ENODATA') throw err;
    }
  }
  return result.size > 0 ? result : null;
}

/** Sets every xattr of `xattrs` on `path` (symlinks not followed); leaves other xattrs alone. */
export function writeXattrs(path: PosixPath, xattrs: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, value] of xattrs) setXattr(path, name, value);
}
