import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { type Dirent, entryKind, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } from '../catalog/index.js';
import { BargeError, errnoCode } from '../error/index.js';
import type { HashText, ObjectSuffix } from '../object/index.js';
import { mknod, writeXattrs } from '../posix/index.js';
import { runPool } from '../publish/index.js';
import type { RepositoryReader } from '../repository/repository-reader.js';

/** Options of pull. */
export interface PullOptions {
  /** Repository path to materialise ('' = everything). */
  path?: string;
  /** Objects fetched at once. */
  concurrency?: number;
  /** Restore owners (default: when running as root). */
  owners?: boolean;
  /** Called after each entry, for progress. */
  onEntry?: (d: Dirent) => void;
}

/** What pull did. */
export interface PullStats {
  entries: number;
  files: number;
  bytes: number;
  /** Entries that cannot be made here (device nodes without root), by path. */
  skipped: string[];
}

/**
 * Materialises a repository tree (or subtree) into a local directory, like an unpacked image:
 * contents verified object by object, modes, mtimes, symlinks, fifos, sockets, devices (as root),
 * user xattrs and hardlink groups reproduced. Directories get their final modes last, so a
 * read-only directory does not block its own contents.
 */
export async function pull(
  reader: RepositoryReader,
  dest: string,
  options: PullOptions = {},
): Promise<PullStats> {
  const root = options.path ?? '';
  const owners = options.owners ?? process.getuid?.() === 0;
  const stats: PullStats = { entries: 0, files: 0, bytes: 0, skipped: [] };
  const entries: Dirent[] = [];
  for await (const d of reader.walk(root)) entries.push(d);
  const local = (d: Dirent): string => path.join(dest, d.path.slice(root.length));
  await fsp.mkdir(dest, { recursive: true });

  // Directories first (writable while filling), then everything else in parallel.
  const dirs = entries.filter((d) => entryKind(d.mode) === 'directory');
  for (const d of dirs) await fsp.mkdir(local(d), { recursive: true, mode: 0o700 });
  const firstOfGroup = new Map<string, string>();
  const linked: Dirent[] = [];
  const others: Dirent[] = [];
  for (const d of entries) {
    if (entryKind(d.mode) === 'directory') continue;
    if (entryKind(d.mode) === 'file' && d.hardlinkGroup !== 0) {
      const key = `${path.dirname(d.path)}\0${d.hardlinkGroup}`;
      if (firstOfGroup.has(key)) {
        linked.push(d);
        continue;
      }
      firstOfGroup.set(key, local(d));
    }
    others.push(d);
  }
  await runPool(others, options.concurrency ?? 16, async (d) => {
    await materialise(reader, d, local(d), owners, stats);
    options.onEntry?.(d);
  });
  for (const d of linked) {
    const target = firstOfGroup.get(`${path.dirname(d.path)}\0${d.hardlinkGroup}`) as string;
    await fsp.rm(local(d), { force: true });
    await fsp.link(target, local(d));
    stats.entries++;
  }
  for (const d of dirs.reverse()) {
    const p = local(d);
    if (d.xattrs) writeXattrs(p, d.xattrs);
    if (owners) await fsp.lchown(p, d.uid, d.gid);
    await fsp.chmod(p, d.mode & 0o7777);
    await fsp.utimes(p, d.mtime, d.mtime);
    stats.entries++;
  }
  return stats;
}

async function materialise(
  reader: RepositoryReader,
  d: Dirent,
  p: string,
  owners: boolean,
  stats: PullStats,
): Promise<void> {
  const kind = entryKind(d.mode);
  await fsp.rm(p, { force: true });
  switch (kind) {
    case 'file':
      await writeFile(reader, d, p);
      stats.files++;
      stats.bytes += d.size;
      break;
    case 'symlink':
      await fsp.symlink(d.symlink, p);
      break;
    case 'fifo':
    case 'socket':
      mknod(p, (kind === 'fifo' ? S_IFIFO : S_IFSOCK) | (d.mode & 0o7777), 0);
      break;
    case 'char':
    case 'block':
      try {
        mknod(p, (kind === 'char' ? S_IFCHR : S_IFBLK) | (d.mode & 0o7777), d.size);
      } catch (err) {
        if (errnoCode(err) !== 'EPERM') throw err;
        stats.skipped.push(d.path);
        return;
      }
      break;
    default:
      return;
  }
  if (d.xattrs && kind !== 'symlink') writeXattrs(p, d.xattrs);
  if (owners) await fsp.lchown(p, d.uid, d.gid);
  if (kind !== 'symlink') await fsp.chmod(p, d.mode & 0o7777);
  await fsp.lutimes(p, d.mtime, d.mtime);
  stats.entries++;
}

/** Writes a regular file from its object or chunks, checking the size the catalog promises. */
async function writeFile(reader: RepositoryReader, d: Dirent, p: string): Promise<void> {
  const handle = await fsp.open(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    let written = 0;
    const parts: { hash: HashText; suffix: ObjectSuffix; size: number }[] =
      d.chunks.length > 0 ? d.chunks.map((c) => ({ hash: c.hash, suffix: 'P', size: c.size })) : [];
    if (parts.length === 0 && d.hash) parts.push({ hash: d.hash, suffix: '', size: d.size });
    if (parts.length === 0 && d.size > 0) {
      throw new BargeError('CATALOG_INVALID', `${d.path} has neither a content hash nor chunks`);
    }
    for (const part of parts) {
      const data = d.uncompressed
        ? await reader.fetchRaw(part.hash, part.suffix)
        : await reader.fetchObject(part.hash, part.suffix);
      if (data.length !== part.size) {
        throw new BargeError(
          'OBJECT_CORRUPT',
          `${d.path}: object ${part.hash} has ${data.length} bytes, the catalog says ${part.size}`,
        );
      }
      await handle.write(data, 0, data.length, written);
      written += data.length;
    }
    if (written !== d.size) {
      throw new BargeError(
        'OBJECT_CORRUPT',
        `${d.path}: content has ${written} bytes, the catalog says ${d.size}`,
      );
    }
  } finally {
    await handle.close();
  }
}
