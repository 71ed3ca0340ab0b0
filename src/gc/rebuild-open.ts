import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errnoCode } from '../error/index.js';
import { Publisher, RepositoryLock } from '../publish/index.js';
import { repositoryPaths } from '../repository/index.js';

const WHAT = 'gc --rebuild-ledger';

/**
 * Opens the repository for a ledger rebuild. A ledger SQLite cannot open (a disaster: a torn or
 * overwritten file) would make Publisher.open fail forever; under the repository lock it is moved
 * aside (`ledger.db.unreadable-<time>`, kept for a post-mortem) and the open is retried with a
 * fresh one. Any other failure is the caller's to see.
 */
export async function openForRebuild(
  dataDir: string,
  fqrn: string,
  say: (line: string) => void,
): Promise<Publisher> {
  try {
    return await Publisher.open(dataDir, fqrn, WHAT, { keepStaging: true });
  } catch (err) {
    if (!errnoCode(err)?.startsWith('SQLITE_')) throw err;
    const { state } = repositoryPaths(dataDir, fqrn);
    const file = path.join(state, 'ledger.db');
    const lock = await RepositoryLock.acquire(state, `barge ${WHAT}`);
    try {
      // Another SQLite file (the publish state) may be the one that failed: then rethrow.
      if (!existsSync(file) || readable(file)) throw err;
      const aside = `${file}.unreadable-${Date.now()}`;
      await fsp.rename(file, aside);
      await fsp.rename(`${file}-wal`, `${aside}-wal`).catch(() => undefined);
      await fsp.rm(`${file}-shm`, { force: true });
      say(`the ledger could not be opened (${(err as Error).message}); moved it to ${aside}`);
    } finally {
      await lock.release();
    }
  }
  return Publisher.open(dataDir, fqrn, WHAT, { keepStaging: true });
}

/** Whether a SQLite file opens and passes a quick check. */
function readable(file: string): boolean {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.pragma('quick_check', { simple: true }) === 'ok';
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}
