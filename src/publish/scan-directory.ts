import { type BigIntStats, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { encodeXattrs, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import { readUserXattrs } from '../posix/index.js';
import { sourceError } from './object-writer.js';

/** One entry of a scanned source tree. */
export interface ScannedEntry {
  /** Repository path it will have. */
  path: string;
  name: string;
  /** Absolute path in the source tree. */
  abs: string;
  stat: BigIntStats;
  /** Symlink target. */
  target?: string;
  xattrs: Map<string, Buffer> | null;
}

/**
 * Walks a source directory with lstat (symlinks are entries, never followed), parents before
 * children, names sorted. `at` is the repository path the source root becomes. Unreadable
 * directories are SOURCE_UNREADABLE; nothing is published from a partial scan.
 */
/** Checks that a publish source is an existing directory (SOURCE_NOT_FOUND otherwise); returns its lstat. */
export function sourceDirectory(root: string): BigIntStats {
  let rootStat: BigIntStats;
  try {
    rootStat = lstatSync(root, { bigint: true });
  } catch (err) {
    throw new BargeError('SOURCE_NOT_FOUND', `source directory ${root} does not exist`, {
      cause: err,
      hint: 'give the path of an existing directory to publish',
    });
  }
  if ((Number(rootStat.mode) & S_IFMT) !== S_IFDIR) {
    throw new BargeError('SOURCE_NOT_FOUND', `source ${root} is not a directory`, {
      hint: 'publish a directory',
    });
  }
  return rootStat;
}

export function scanDirectory(root: string, at: string, options: { xattrs?: boolean } = {}): ScannedEntry[] {
  const withXattrs = options.xattrs ?? true;
  const rootStat = sourceDirectory(root);
  const out: ScannedEntry[] = [];
  const visit = (abs: string, repoPath: string, name: string, st: BigIntStats): void => {
    const type = Number(st.mode) & S_IFMT;
    const entry: ScannedEntry = {
      path: repoPath,
      name,
      abs,
      stat: st,
      xattrs: withXattrs ? readXattrs(abs) : null,
    };
    if (type === S_IFLNK) {
      try {
        entry.target = readlinkSync(abs);
      } catch (err) {
        throw sourceError(err, abs);
      }
    }
    out.push(entry);
    if (type !== S_IFDIR) return;
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (err) {
      throw sourceError(err, abs);
    }
    names.sort();
    for (const child of names) {
      if (Buffer.byteLength(child) > 255 || child.includes('\uFFFD')) {
        throw new BargeError(
          'UNSUPPORTED_ENTRY',
          `${path.join(abs, child)}: the name is not valid UTF-8 or too long`,
          {
            hint: 'rename the entry; CVMFS names are UTF-8 text of at most 255 bytes',
          },
        );
      }
      const childAbs = path.join(abs, child);
      let childStat: BigIntStats;
      try {
        childStat = lstatSync(childAbs, { bigint: true });
      } catch (err) {
        throw sourceError(err, childAbs);
      }
      visit(childAbs, `${repoPath}/${child}`, child, childStat);
    }
  };
  visit(path.resolve(root), at, at === '' ? '' : at.slice(at.lastIndexOf('/') + 1), rootStat);
  return out;
}

/** Reads the xattrs of entries scanned without them. */
export function readScannedXattrs(entries: ScannedEntry[]): void {
  for (const e of entries) e.xattrs = readXattrs(e.abs);
}

function readXattrs(abs: string): Map<string, Buffer> | null {
  let xattrs: Map<string, Buffer> | null;
  try {
    xattrs = readUserXattrs(abs);
  } catch (err) {
    throw sourceError(err, abs);
  }
  // Fail at scan time, naming the source file, before any object is written.
  encodeXattrs(xattrs, abs);
  return xattrs;
}

/** The catalog `size` of a scanned entry: file size, st_size of directories, target length of symlinks, rdev of devices. */
export function catalogSize(e: ScannedEntry): number {
  const type = Number(e.stat.mode) & S_IFMT;
  if (type === S_IFREG || type === S_IFDIR) return Number(e.stat.size);
  if (type === S_IFLNK) return Buffer.byteLength(e.target ?? '');
  if (type === S_IFCHR || type === S_IFBLK) return Number(e.stat.rdev);
  return 0;
}
