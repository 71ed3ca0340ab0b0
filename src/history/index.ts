/**
 * History and reflog: the two SQLite databases a repository keeps beside its catalogs. The history
 * (tag) database, object `data/…H` named by the manifest's H, maps tag names such as `trunk` to
 * root catalogs; the reflog, `/.cvmfsreflog` named by Y, records every root object ever signed so
 * that gc and replication know what exists. Both are read and written in memory in exactly the
 * schema cvmfs_server 2.11 writes (spec §9.1, §9.2), as rollback-journal files with 4096-byte pages.
 */

export type { Tag, TagInput } from './history-db.js';
export { HistoryDb, TRUNK, TRUNK_PREVIOUS } from './history-db.js';
export { HISTORY_SCHEMA, HISTORY_SCHEMA_REVISION } from './history-schema.js';
export type { Reference, ReferenceType } from './reflog-db.js';
export { ReflogDb } from './reflog-db.js';
