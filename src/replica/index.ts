/**
 * Replicas: stratum-1 snapshots of any CVMFS repository, barge's or cvmfs_server's. `replicate`
 * trusts a source only through its whitelist, certificate and the master key, copies every root
 * catalog the source still offers with its subtree (only what is missing, in parallel, each
 * object hash-checked before it is written), and swaps the manifest in last. The replica's state
 * directory holds a marker (writers refuse a replica) and a ledger of the catalogs it holds
 * completely, so an interrupted snapshot resumes, a later one skips what it has, and the
 * replica's own gc follows the source: it keeps what the source's manifest, tags and reflog still
 * name (plus its own recent HEADs) and deletes the rest. `barge serve` serves a replica as any
 * repository.
 */

export { fetchVerified } from './fetch-verified.js';
export type { KeptRoot } from './kept-roots.js';
export type { ReplicaGcOptions, ReplicaGcReport } from './replica-gc.js';
export { collectReplicaGarbage } from './replica-gc.js';
export type { CompletedCatalog, SeenRoot, SnapshotRecord } from './replica-ledger.js';
export { ReplicaLedger } from './replica-ledger.js';
export type { ReplicaMarker } from './replica-marker.js';
export {
  assertNotReplica,
  isReplica,
  REPLICA_MARKER,
  readReplicaMarker,
  writeReplicaMarker,
} from './replica-marker.js';
export type { ReplicateOptions, SnapshotResult } from './replicate.js';
export { replicate } from './replicate.js';
export { dateUtc, writeSnapshotStamp } from './snapshot-stamp.js';
export type { CatalogFacts, CopyStats } from './subtree-copier.js';
export { SubtreeCopier } from './subtree-copier.js';
export { TaskLimit } from './task-limit.js';
