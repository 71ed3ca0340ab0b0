import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BargeError, errnoCode } from '../error/index.js';

/** The file in a repository's state directory that makes it a replica (never served). */
export const REPLICA_MARKER = 'replica.json';

/** What the marker says: where the replica comes from. */
export interface ReplicaMarker {
  fqrn: string;
  /** The source URL or directory of the last snapshot. */
  source: string;
  /** ISO time of the first snapshot. */
  since: string;
}

/** Whether the state directory belongs to a replica (cheap and synchronous, for writers' checks). */
export function isReplica(stateDir: string): boolean {
  return existsSync(path.join(stateDir, REPLICA_MARKER));
}

/**
 * Refuses a write to a replica: it has no keys to sign with, and anything published there would
 * be replaced by the next snapshot. Writers (publish, tag, init) call this before taking the lock.
 */
export function assertNotReplica(stateDir: string, fqrn: string): void {
  if (!isReplica(stateDir)) return;
  throw new BargeError('REPO_IS_REPLICA', `${fqrn} here is a stratum-1 replica: it cannot be written to`, {
    hint: `publish on the source repository; 'barge replicate' brings its revisions here`,
  });
}

/** The marker, or undefined when the directory is not a replica's. */
export async function readReplicaMarker(stateDir: string): Promise<ReplicaMarker | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(stateDir, REPLICA_MARKER), 'utf8')) as ReplicaMarker;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes the marker atomically, keeping `since` of an existing one. */
export async function writeReplicaMarker(stateDir: string, fqrn: string, source: string): Promise<void> {
  const old = await readReplicaMarker(stateDir).catch(() => undefined);
  const marker: ReplicaMarker = { fqrn, source, since: old?.since ?? new Date().toISOString() };
  if (old && old.source === source && old.fqrn === fqrn) return;
  await fsp.mkdir(stateDir, { recursive: true });
  const tmp = path.join(stateDir, `${REPLICA_MARKER}.tmp`);
  await fsp.writeFile(tmp, `${JSON.stringify(marker, null, 2)}\n`);
  await fsp.rename(tmp, path.join(stateDir, REPLICA_MARKER));
}
