import { constants } from 'node:fs';
import { chown, rm, writeFile } from 'node:fs/promises';
import { errnoCode } from '../error/index.js';
import { makedev, mknod, removeXattr, setXattr } from '../posix/index.js';

// Being root is not enough: root in a user namespace lacks CAP_MKNOD and can only chown to
// mapped ids. Each probe tries the real operation on a scratch file and cleans up.

/** Whether this process may make device nodes. */
export async function canMknodDevice(probe: string): Promise<boolean> {
  try {
    mknod(probe, constants.S_IFCHR | 0o600, makedev(1, 3));
  } catch (err) {
    if (errnoCode(err) === 'EPERM') return false;
    throw err;
  }
  await rm(probe);
  return true;
}

/** Whether this process may give a file away to an unrelated uid past 2^31. */
export async function canChown(probe: string): Promise<boolean> {
  await writeFile(probe, '');
  try {
    await chown(probe, 3_000_000_000, 1000);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EPERM' || errnoCode(err) === 'EINVAL') return false;
    throw err;
  } finally {
    await rm(probe);
  }
}

/** Whether the filesystem stores user.* xattrs (tmpfs before Linux 6.6 does not). */
export async function canSetUserXattr(probe: string): Promise<boolean> {
  await writeFile(probe, '');
  try {
    setXattr(probe, 'user.barge.probe', Buffer.from('1'));
    removeXattr(probe, 'user.barge.probe');
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOTSUP' || errnoCode(err) === 'EPERM') return false;
    throw err;
  } finally {
    await rm(probe);
  }
}
