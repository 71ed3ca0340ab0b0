import { isBargeError } from '../error/index.js';
import { HistoryDb, type ReferenceType, ReflogDb } from '../history/index.js';
import type { Manifest } from '../manifest/index.js';
import { decompress, type ObjectSuffix, objectPath } from '../object/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { ReplicaGcLedger } from './replica-gc-ledger.js';

/** A root catalog the replica's gc keeps, and why. */
export interface KeptRoot {
  hash: string;
  /** Revision, when the catalog's row or a tag says it. */
  revision?: number;
  /** `head`, `tag:<name>`, `reflog`, `snapshot` (a recent HEAD of the replica), `previous`. */
  why: string[];
}

/** What the replica keeps: root catalogs, and the extras (certificates, histories, meta-info). */
export interface KeptSet {
  roots: KeptRoot[];
  extras: Set<string>;
}

const SUFFIX_OF: Record<ReferenceType, ObjectSuffix> = {
  catalog: 'C',
  certificate: 'X',
  history: 'H',
  metainfo: 'M',
};

/**
 * What the source still keeps, read from the replica's own copy of its manifest, history and
 * reflog (the last snapshot swapped them in), as cvmfs_server's gc on a stratum 1 reads them:
 * HEAD; the named tags (trunk, trunk-previous...) whose roots the reflog still lists (the source's
 * gc removes a root from the reflog when it deletes it); every root catalog the reflog lists.
 * Without a reflog (an old cvmfs_server source) the replica cannot tell what the source dropped,
 * so it keeps every root the last snapshot saw held, previous revisions included. Then the
 * replica's own margin: the roots it served as HEAD in its last `keepSnapshots` snapshots.
 */
export async function keptRoots(
  store: ObjectStore,
  manifest: Manifest,
  gcLedger: ReplicaGcLedger,
  keepSnapshots: number,
): Promise<KeptSet> {
  const roots = new Map<string, KeptRoot>();
  const keep = (hash: string, why: string, revision?: number) => {
    const r = roots.get(hash) ?? { hash, why: [] };
    if (!r.why.includes(why)) r.why.push(why);
    r.revision ??= revision ?? gcLedger.revisionOf(hash);
    roots.set(hash, r);
  };
  const extras = new Set<string>([objectPath(manifest.certificate, 'X')]);
  if (manifest.metainfo) extras.add(objectPath(manifest.metainfo, 'M'));
  keep(manifest.rootHash, 'head', manifest.revision);

  const reflogBytes = await store.get('.cvmfsreflog').catch((err) => {
    if (isBargeError(err, 'OBJECT_NOT_FOUND')) return undefined;
    throw err;
  });
  let listed: Set<string> | undefined;
  if (reflogBytes) {
    // An unreadable reflog throws: guessing what the source keeps could delete what it serves.
    const reflog = ReflogDb.open(reflogBytes);
    try {
      listed = new Set();
      for (const r of reflog.list()) {
        if (r.type === 'catalog') listed.add(r.hash);
        else extras.add(objectPath(r.hash, SUFFIX_OF[r.type]));
      }
    } finally {
      reflog.close();
    }
  }
  if (manifest.history) {
    const key = objectPath(manifest.history, 'H');
    extras.add(key);
    const history = HistoryDb.open(await decompress(await store.get(key), key));
    try {
      for (const t of history.tags()) {
        if (!listed || listed.has(t.hash)) keep(t.hash, `tag:${t.name}`, t.revision);
      }
    } finally {
      history.close();
    }
  }
  if (listed) {
    for (const hash of listed) keep(hash, 'reflog');
  } else {
    for (const r of gcLedger.lastSnapshotRoots()) keep(r.hash, r.reason, r.revision || undefined);
  }
  for (const h of gcLedger.recentHeads(keepSnapshots)) keep(h.hash, 'snapshot', h.revision);
  return { roots: [...roots.values()], extras };
}
