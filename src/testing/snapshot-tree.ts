import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { readUserXattrs } from '../posix/index.js';

const { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } = constants;

/** The kind of a tree entry, in the words of catalog/dirent's EntryKind. */
export type TreeEntryType = 'directory' | 'file' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** One entry of a snapshot: what a comparison of two trees looks at. */
export interface TreeEntry {
  /** Relative to the snapshot root, '/'-separated; '' is the root itself. */
  path: string;
  type: TreeEntryType;
  /** Permission and special bits (mode & 0o7777). */
  mode: number;
  /** Files: bytes; symlinks: bytes of the target; 0 otherwise (a directory's size is the filesystem's business). */
  size: number;
  /** Files: hex sha256 of the content. */
  sha256?: string;
  /** Symlinks: the target as stored. */
  target?: string;
  /** Char and block devices: the device number. */
  rdev?: number;
  uid?: number;
  gid?: number;
  /** Whole seconds of the mtime (withMtime). */
  mtime?: number;
  /** Nanoseconds past `mtime` (withMtime). */
  mtimeNs?: number;
  /** `user.*` xattrs, values in hex; absent when none. */
  xattrs?: Record<string, string>;
  /** Non-directories with other names in the tree: the bytewise-first path of the inode's names. */
  nlinkGroup?: string;
}

/** What snapshotTree records besides type, mode, size, content and xattrs. */
export interface SnapshotOptions {
  /** Record uid and gid. */
  withOwners?: boolean;
  /** Record mtime and mtimeNs. */
  withMtime?: boolean;
}

const TYPES = new Map<number, TreeEntryType>([
  [S_IFDIR, 'directory'],
  [S_IFREG, 'file'],
  [S_IFLNK, 'symlink'],
  [S_IFIFO, 'fifo'],
  [S_IFSOCK, 'socket'],
  [S_IFCHR, 'char'],
  [S_IFBLK, 'block'],
]);

/** Bytewise order of UTF-8 paths, the order CVMFS and C tools sort in. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Describes the tree at `root` for comparison, sorted bytewise by path. Deliberately independent
 * of barge's own code (lstat, readdir, readlink, sha256 and the posix xattr calls only), so a
 * bug in barge's reader or writer cannot hide itself in the tests that compare trees.
 * Symlinks are never followed; fifos are never opened.
 */
export async function snapshotTree(root: string, options: SnapshotOptions = {}): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const inodes = new Map<string, TreeEntry[]>();
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : path.join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const format = Number(st.mode & BigInt(S_IFMT));
    const type = TYPES.get(format);
    if (type === undefined)
      throw new Error(`snapshotTree: ${abs} has unknown file type 0o${format.toString(8)}`);
    const entry: TreeEntry = { path: rel, type, mode: Number(st.mode & 0o7777n), size: 0 };
    if (type === 'file') {
      entry.size = Number(st.size);
      entry.sha256 = await sha256File(abs);
    } else if (type === 'symlink') {
      const target = await readlink(abs, { encoding: 'buffer' });
      entry.size = target.length;
      entry.target = target.toString();
    } else if (type === 'char' || type === 'block') {
      entry.rdev = Number(st.rdev);
    }
    if (options.withOwners) {
      entry.uid = Number(st.uid);
      entry.gid = Number(st.gid);
    }
    if (options.withMtime) {
      entry.mtime = Number(st.mtimeNs / 1_000_000_000n);
      entry.mtimeNs = Number(st.mtimeNs % 1_000_000_000n);
    }
    const xattrs = readUserXattrs(abs);
    if (xattrs) entry.xattrs = Object.fromEntries([...xattrs].map(([k, v]) => [k, v.toString('hex')]));
    if (type !== 'directory' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      inodes.set(key, [...(inodes.get(key) ?? []), entry]);
    }
    entries.push(entry);
    if (type === 'directory') {
      for (const name of await readdir(abs)) await walk(rel === '' ? name : `${rel}/${name}`);
    }
  };
  await walk('');
  // Names of one inode outside the walked tree do not count: only the structure inside it does.
  for (const names of inodes.values()) {
    if (names.length < 2) continue;
    const first = names.map((e) => e.path).sort(comparePaths)[0];
    for (const e of names) e.nlinkGroup = first;
  }
  return entries.sort((a, b) => comparePaths(a.path, b.path));
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
