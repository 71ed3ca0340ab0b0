import { posixAddon } from './native-addon.js';

/** A digest of a tree's paths and inode fields (lstat, never following symlinks), with its entry count and newest mtime/ctime. */
export interface TreeFingerprint {
  digest: Buffer;
  entries: number;
  /** Newest mtime or ctime of any entry, in ns: a fingerprint taken within a timestamp tick of it cannot be trusted. */
  newestNs: bigint;
}

/**
 * Fingerprints the tree at `root` in C (~10 ms for 6,000 entries, against ~130 ms for the same
 * walk in JS): names in byte order, every entry's dev, inode, mode, owner, size, mtime, ctime,
 * link count and rdev. Equal fingerprints taken out of the racy window mean an unchanged tree.
 */
export function treeFingerprint(root: string): TreeFingerprint {
  return posixAddon().treeFingerprint(root);
}
