import { createHash } from 'node:crypto';
import {
  chmod,
  chown,
  lchown,
  link,
  lutimes,
  mkdir,
  open,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { mknod, writeXattrs } from '../posix/index.js';
import { writeBigFile } from './test-tree-content.js';

/** Metadata an entry gets once the whole tree exists. */
export interface EntryMeta {
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; fractions are kept to the precision of a double. */
  mtime?: number;
  xattrs?: Map<string, Buffer>;
}

interface Pending extends EntryMeta {
  kind: 'directory' | 'file' | 'symlink' | 'node';
}

/**
 * Creates entries under a root and applies their metadata last, in the one order that works:
 * xattrs before chmod (user.* needs write permission), chown before chmod (chown clears
 * setuid/setgid), and times at the very end (creating a child bumps its directory's mtime).
 * Every non-symlink gets an explicit mode, so the result does not depend on the umask.
 */
export class TreeBuilder {
  private readonly entries = new Map<string, Pending>([['', { kind: 'directory', mode: 0o755 }]]);

  /** `root` must exist; `mtimeSeed` (when set) gives every entry a deterministic mtime. */
  constructor(
    readonly root: string,
    private readonly mtimeSeed: string | undefined,
  ) {}

  /** The absolute path of a tree-relative one ('' is the root). */
  abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }

  /** Whether `rel` was created by this builder (hardlinks excepted). */
  has(rel: string): boolean {
    return this.entries.has(rel);
  }

  async dir(rel: string, mode = 0o755): Promise<void> {
    const known = this.entries.get(rel);
    if (known) {
      known.mode = mode;
      return;
    }
    await this.parents(rel);
    await mkdir(this.abs(rel));
    this.entries.set(rel, { kind: 'directory', mode });
  }

  async file(rel: string, content: Buffer | string, mode = 0o644): Promise<void> {
    await this.parents(rel);
    await writeFile(this.abs(rel), content, { flag: 'wx' });
    this.entries.set(rel, { kind: 'file', mode });
  }

  /** A file of `size` bytes from writeBigFile, streamed to disk. */
  async bigFile(rel: string, size: number, seed: number | string): Promise<void> {
    await this.parents(rel);
    const handle = await open(this.abs(rel), 'wx');
    try {
      await writeBigFile(handle, size, seed);
    } finally {
      await handle.close();
    }
    this.entries.set(rel, { kind: 'file', mode: 0o644 });
  }

  /** A sparse file: `size` bytes, data only at `offsets`, holes in between. */
  async sparseFile(rel: string, size: number, chunks: Array<[number, Buffer]>): Promise<void> {
    await this.parents(rel);
    const handle = await open(this.abs(rel), 'wx');
    try {
      for (const [offset, data] of chunks) await handle.write(data, 0, data.length, offset);
      await handle.truncate(size);
    } finally {
      await handle.close();
    }
    this.entries.set(rel, { kind: 'file', mode: 0o644 });
  }

  async symlink(rel: string, target: string): Promise<void> {
    await this.parents(rel);
    await symlink(target, this.abs(rel));
    this.entries.set(rel, { kind: 'symlink' });
  }

  /** Another name for `existing`; it shares the inode, so it has no metadata of its own. */
  async hardlink(existing: string, rel: string): Promise<void> {
    await this.parents(rel);
    await link(this.abs(existing), this.abs(rel));
  }

  /** A fifo, socket or device node; `mode` includes the type bits. */
  async node(rel: string, mode: number, dev = 0): Promise<void> {
    await this.parents(rel);
    mknod(this.abs(rel), mode, dev);
    this.entries.set(rel, { kind: 'node', mode: mode & 0o7777 });
  }

  /** Records metadata for an entry made earlier. */
  set(rel: string, meta: EntryMeta): void {
    const entry = this.entries.get(rel);
    if (!entry) throw new Error(`test tree: no entry ${rel} to set metadata on`);
    Object.assign(entry, meta);
  }

  /** Applies all recorded metadata; call once, after the last entry is created. */
  async finish(): Promise<void> {
    for (const [rel, e] of this.entries) {
      // Linux allows user.* xattrs on regular files and directories only.
      if (e.xattrs && (e.kind === 'file' || e.kind === 'directory')) writeXattrs(this.abs(rel), e.xattrs);
      if (e.uid !== undefined || e.gid !== undefined) {
        const chownEntry = e.kind === 'symlink' ? lchown : chown;
        await chownEntry(this.abs(rel), e.uid ?? -1, e.gid ?? -1);
      }
    }
    for (const [rel, e] of this.entries) {
      if (e.kind !== 'symlink' && e.mode !== undefined) await chmod(this.abs(rel), e.mode);
    }
    if (this.mtimeSeed === undefined) return;
    for (const [rel, e] of this.entries) {
      const mtime = e.mtime ?? this.defaultMtime(rel);
      await (e.kind === 'symlink' ? lutimes : utimes)(this.abs(rel), mtime, mtime);
    }
  }

  /** A stable mtime from the seed and the path: 2017–2027, every fourth one with a half second. */
  private defaultMtime(rel: string): number {
    const h = createHash('sha256').update(`${this.mtimeSeed}\0${rel}`).digest();
    return 1_500_000_000 + (h.readUInt32BE(0) % 300_000_000) + (h[4]! % 4 === 0 ? 0.5 : 0);
  }

  private async parents(rel: string): Promise<void> {
    const parent = path.posix.dirname(rel);
    if (parent !== '.' && !this.entries.has(parent)) await this.dir(parent);
  }
}
