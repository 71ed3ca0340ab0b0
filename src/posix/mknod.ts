import { posixAddon } from './native-addon.js';
import type { PosixPath } from './xattr.js';

/**
 * Creates a fifo, socket or device node: `mode` carries the type bits (S_IFIFO, S_IFSOCK,
 * S_IFCHR, S_IFBLK) and the permissions, which the umask trims as for mknod(2); `dev` is the
 * device number of char and block devices (see makedev). Devices need CAP_MKNOD.
 */
export function mknod(path: PosixPath, mode: number, dev = 0): void {
  posixAddon().mknod(path, mode, dev);
}

/** The device number of (major, minor) in this libc's encoding, as lstat's `rdev` reports it. */
export function makedev(major: number, minor: number): number {
  return posixAddon().makedev(major, minor);
}

/** The major number of a device number. */
export function major(dev: number): number {
  return posixAddon().major(dev);
}

/** The minor number of a device number. */
export function minor(dev: number): number {
  return posixAddon().minor(dev);
}
