import { randomBytes } from 'node:crypto';
import { existsSync, constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BargeError, errnoCode } from '../error/index.js';
import type { ObjectStore, PutOptions, StoredObject } from './object-store.js';
import { syncFilesystem } from './sync-filesystem.js';

/** Options of the filesystem store. */
export interface FsStoreOptions {
  /** Flush with syncfs(2) before manifests are swapped in (default true). */
  durable?: boolean;
}

/**
 * The embedded default store: a directory laid out exactly as a CVMFS stratum 0 serves it
 * (`data/00`…`data/ff`, `data/txn` for staging), so that any web server can serve it as is.
 * Writes go to `data/txn` and are renamed into place (rename is atomic on one file system).
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs';
  readonly root: string;
  private readonly durable: boolean;
  private readonly txn: string;
  /** Staging names: unique per process and put, without a random draw per object. */
  private readonly tmpPrefix = `${process.pid}-${randomBytes(4).toString('hex')}-`;
  private tmpCounter = 0;

  constructor(root: string, options: FsStoreOptions = {}) {
    this.root = root;
    this.durable = options.durable ?? true;
    this.txn = path.join(root, 'data', 'txn');
  }

  /** Creates `data/00`…`data/ff` and `data/txn` (idempotent). */
  async initLayout(): Promise<void> {
    await fsp.mkdir(this.txn, { recursive: true });
    await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        fsp.mkdir(path.join(this.root, 'data', i.toString(16).padStart(2, '0')), { recursive: true }),
      ),
    );
  }

  private file(key: string): string {
    if (key.startsWith('/') || key.split('/').includes('..')) {
      throw new BargeError('INVALID_PATH', `object key '${key}' escapes the store`);
    }
    return path.join(this.root, key);
  }

  async has(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await fsp.stat(this.file(key))).size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw ioError(err, `stat ${key}`);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.file(key));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
        throw new BargeError('OBJECT_NOT_FOUND', `${key} is not in the store at ${this.root}`);
      }
      throw ioError(err, `read ${key}`);
    }
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    const target = this.file(key);
    const tmp = path.join(this.txn, `${this.tmpPrefix}${this.tmpCounter++}.tmp`);
    try {
      // The existence check is a cheap synchronous stat; creating the file stays on the thread
      // pool, since creating inodes can take milliseconds (measured on ext4 without a journal
      // after mass deletions) and would stall the main thread that feeds the compressors.
      if (options.ifAbsent && existsSync(target)) return false;
      await fsp.writeFile(tmp, data, { flag: fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL });
      await fsp.rename(tmp, target);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      if (errnoCode(err) === 'ENOENT' && key.startsWith('data/')) {
        // The layout is missing (a store created elsewhere): make it and retry once.
        await this.initLayout();
        return this.put(key, data, { ...options, ifAbsent: false });
      }
      throw ioError(err, `write ${key}`);
    }
    return true;
  }

  async delete(keys: readonly string[]): Promise<void> {
    const batch = 64;
    for (let i = 0; i < keys.length; i += batch) {
      await Promise.all(
        keys.slice(i, i + batch).map((key) =>
          fsp.unlink(this.file(key)).catch((err) => {
            if (errnoCode(err) !== 'ENOENT') throw ioError(err, `delete ${key}`);
          }),
        ),
      );
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const base = this.file(prefix.replace(/\/+$/, '') || '.');
    yield* walk(base, path.relative(this.root, base));
  }

  async flush(): Promise<void> {
    if (this.durable) await syncFilesystem(this.root);
  }

  /**
   * Removes staging leftovers of crashed writers (safe only under the repository lock). Files of
   * live processes stay: the upload service stores objects outside the lock, and its ingest
   * workers leave each in `data/txn` until its key is staged in the gc ledger.
   */
  async clearStaging(): Promise<number> {
    let removed = 0;
    for (const name of await fsp.readdir(this.txn).catch(() => [] as string[])) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1] ?? 0);
      if (pid > 0 && pidAlive(pid)) continue;
      await fsp.rm(path.join(this.txn, name), { force: true, recursive: true });
      removed++;
    }
    return removed;
  }
}

async function* walk(dir: string, rel: string): AsyncIterable<StoredObject> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw ioError(err, `list ${rel}`);
  }
  for (const entry of entries) {
    const childRel = rel === '.' || rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) {
      if (childRel === 'data/txn') continue;
      yield* walk(path.join(dir, entry.name), childRel);
    } else if (entry.isFile()) {
      const st = await fsp.stat(path.join(dir, entry.name)).catch(() => undefined);
      if (st) yield { key: childRel, size: st.size };
    }
  }
}

/** Whether a process of this host lives (staging names start with their writer's pid). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** Maps a file system error to a BargeError, with ENOSPC as DISK_FULL. */
export function ioError(err: unknown, what: string): BargeError {
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BargeError('DISK_FULL', `no space left on the device to ${what}`, {
      cause: err,
      hint: 'free space on the data volume, then publish again; the last good revision is still served',
    });
  }
  return new BargeError('IO_ERROR', `cannot ${what}: ${(err as Error).message}`, { cause: err });
}
