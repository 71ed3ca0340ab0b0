/**
 * POSIX calls Node's fs lacks: extended attributes (l*xattr, never following symlinks) and mknod
 * for fifos, sockets and device nodes, from the small N-API addon in native/posix.c (built by
 * `npm run build:native`, loaded on first use). Failures are errors shaped like Node's fs errors
 * (`code` = errno name, `syscall`, `path`), so callers test them as they test fs errors and turn
 * them into BargeErrors at their own level.
 */

export { major, makedev, minor, mknod } from './mknod.js';
export type { TreeFingerprint } from './tree-fingerprint.js';
export { treeFingerprint } from './tree-fingerprint.js';
export type { PosixPath } from './xattr.js';
export { getXattr, listXattrs, readUserXattrs, removeXattr, setXattr, writeXattrs } from './xattr.js';
