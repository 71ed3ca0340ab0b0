import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BargeError, errnoCode } from '../error/index.js';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
  what: string;
}

/**
 * The one-writer lock of a repository: a file created exclusively in its state directory. A lock
 * left by a process that died (kill -9, a crash) is taken over, since a dead writer leaves nothing
 * that a new writer cannot redo: the served manifest always names a complete revision.
 */
export class RepositoryLock {
  private constructor(
    private readonly file: string,
    readonly owner: LockOwner,
  ) {}

  /** Takes the lock or fails with REPO_LOCKED naming the live holder. */
  static async acquire(stateDir: string, what: string): Promise<RepositoryLock> {
    await fsp.mkdir(stateDir, { recursive: true });
    const file = path.join(stateDir, 'lock');
    const owner: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), what };
    for (let attempt = 0; attempt < 3; attempt++) {
      // Written aside and hard-linked into place: link(2) is atomic and exclusive, so a reader
      // never sees a half-written owner and mistakes a live lock for a stale one.
      const tmp = `${file}.${process.pid}.${Date.now()}`;
      await fsp.writeFile(tmp, JSON.stringify(owner));
      try {
        await fsp.link(tmp, file);
        return new RepositoryLock(file, owner);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      } finally {
        await fsp.rm(tmp, { force: true });
      }
      const holder = await readOwner(file);
      if (!holder || processAlive(holder)) {
        const who = holder
          ? `${holder.what} (pid ${holder.pid} on ${holder.host} since ${holder.since})`
          : 'another process';
        throw new BargeError('REPO_LOCKED', `repository is locked by ${who}`, {
          hint: 'wait for that operation to finish; the lock is released when it ends or dies',
          details: { ...holder },
        });
      }
      // Stale: the holder died. Remove only if it is still the same stale file.
      await fsp.rm(file, { force: true });
    }
    throw new BargeError('REPO_LOCKED', `could not take the repository lock ${file}`);
  }

  /** Releases the lock (idempotent). */
  async release(): Promise<void> {
    const holder = await readOwner(this.file);
    if (holder && holder.pid === this.owner.pid && holder.since === this.owner.since) {
      await fsp.rm(this.file, { force: true });
    }
  }
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Whether a process (a lock holder, a writer session) may be alive; on another host, assume so. */
export function processAlive(holder: { host: string; pid: number }): boolean {
  if (holder.host !== os.hostname()) return true; // another machine: cannot tell, assume alive
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}
