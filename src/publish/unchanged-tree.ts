import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { treeFingerprint } from '../posix/tree-fingerprint.js';
import { repositoryPaths } from '../repository/data-dir.js';

/**
 * The no-change answer of `barge publish`, from the lightest possible start: the manifest's root
 * hash, the fingerprint recorded at the last publish of this source to this path, and a native
 * walk of the source. Imports nothing else of the publisher (loading it costs ~150 ms, half of an
 * unchanged republish). Read-only: it answers for the revision it read, and only while no writer
 * holds the lock. Any doubt (no record, another root, a changed tree, an unreadable source, a
 * lock) returns undefined and the full publish decides.
 */
export function unchangedSince(
  dataDir: string,
  fqrn: string,
  source: string,
  at: string,
): { revision: number; entries: number } | undefined {
  try {
    const paths = repositoryPaths(dataDir, fqrn);
    const stateFile = path.join(paths.state, 'state.db');
    // A writer at work (or one that died) holds the lock: the full path reports or takes it over.
    if (!existsSync(stateFile) || existsSync(path.join(paths.state, 'lock'))) return undefined;
    const manifest = readFileSync(path.join(paths.served, '.cvmfspublished'), 'latin1');
    const body = manifest.slice(0, manifest.indexOf('\n--\n'));
    const letter = (l: string) =>
      body
        .split('\n')
        .find((line) => line.startsWith(l))
        ?.slice(1);
    const rootHash = letter('C');
    const revision = Number(letter('S'));
    const db = new Database(stateFile, { readonly: true, fileMustExist: true });
    let row: { fingerprint: Buffer; root_hash: string } | undefined;
    try {
      row = db
        .prepare('SELECT fingerprint, root_hash FROM published_trees WHERE source = ? AND at = ?')
        .get(path.resolve(source), at) as { fingerprint: Buffer; root_hash: string } | undefined;
    } finally {
      db.close();
    }
    if (!row || !rootHash || row.root_hash !== rootHash) return undefined;
    const print = treeFingerprint(path.resolve(source));
    return print.digest.equals(row.fingerprint) ? { revision, entries: print.entries } : undefined;
  } catch {
    return undefined;
  }
}
