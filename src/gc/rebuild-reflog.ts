import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isBargeError } from '../error/index.js';
import { type Reference, type ReferenceType, ReflogDb } from '../history/index.js';
import { type Manifest, signManifest } from '../manifest/index.js';
import { hashAlgorithm, hashBytes, type ObjectSuffix, objectPath } from '../object/index.js';
import type { Publisher } from '../publish/index.js';
import { FsObjectStore } from '../storage/index.js';

/** The object suffix of each reflog reference type. */
const SUFFIX: Record<ReferenceType, ObjectSuffix> = {
  catalog: 'C',
  certificate: 'X',
  history: 'H',
  metainfo: 'M',
};

/** Must match PENDING_REFLOG in src/publish/publisher.ts: Publisher.open repairs a crash from it. */
const PENDING_REFLOG = 'reflog.pending';

/** What rebuildReflog changed. */
export interface ReflogRebuild {
  added: number;
  /** References to objects that no longer exist. */
  removed: number;
  /** The reflog was missing or unreadable and was written anew. */
  recreated: boolean;
}

/**
 * Brings `.cvmfsreflog` in line with the repository: every reference in `want` (existing roots,
 * the current certificate, history and meta-info) recorded, every reference to an object that is
 * gone removed (cvmfs_server gc removes both together; the conformance checker flags a reflog
 * naming a missing root). When anything changed, the current manifest is re-signed with the new
 * reflog hash; the revision stays the same.
 *
 * Standalone because Publisher.swapManifest is private: this repeats its crash-safe order
 * (pending reflog, flush, manifest, reflog) with the same pending file, so Publisher.open repairs
 * a crash here as it repairs one there. Afterwards `publisher.manifest` is stale (older timestamp
 * and Y): the caller must close the publisher without publishing through it again.
 */
export async function rebuildReflog(
  publisher: Publisher,
  want: readonly Reference[],
): Promise<ReflogRebuild> {
  const { store, paths } = publisher;
  const result: ReflogRebuild = { added: 0, removed: 0, recreated: false };
  let reflog: ReflogDb | undefined;
  const bytes = await store.get('.cvmfsreflog').catch((err) => {
    if (isBargeError(err, 'OBJECT_NOT_FOUND')) return undefined;
    throw err;
  });
  if (bytes) {
    try {
      reflog = ReflogDb.open(bytes);
    } catch (err) {
      if (!isBargeError(err, 'REFLOG_INVALID')) throw err;
    }
    if (reflog && reflog.fqrn !== paths.fqrn) {
      reflog.close();
      reflog = undefined;
    }
  }
  if (!reflog) {
    reflog = ReflogDb.create(paths.fqrn);
    result.recreated = true;
  }
  let next: Buffer;
  try {
    for (const r of reflog.list()) {
      if (!(await store.has(objectPath(r.hash, SUFFIX[r.type])))) {
        reflog.remove(r.hash, r.type);
        result.removed++;
      }
    }
    for (const r of want) {
      if (reflog.contains(r.hash, r.type)) continue;
      reflog.add(r.hash, r.type, r.timestamp);
      result.added++;
    }
    if (!result.recreated && result.added === 0 && result.removed === 0) return result;
    next = reflog.serialize();
  } finally {
    reflog.close();
  }
  const current = publisher.manifest;
  const manifest: Manifest = {
    ...current,
    timestamp: Math.max(Math.floor(Date.now() / 1000), current.timestamp + 1),
    reflog: hashBytes(next, hashAlgorithm(current.rootHash)),
  };
  const pending = path.join(paths.state, PENDING_REFLOG);
  // A cvmfs_server repository has no data/txn, where every file put stages; put() makes it only for data/ keys.
  if (store instanceof FsObjectStore) await store.initLayout();
  await fsp.writeFile(pending, next);
  await store.flush();
  await store.put('.cvmfspublished', signManifest(manifest, publisher.keys.certificateKeyPem));
  await store.put('.cvmfsreflog', next);
  await store.flush();
  await fsp.rm(pending, { force: true });
  return result;
}
