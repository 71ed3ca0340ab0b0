/**
 * Catalogs: the SQLite databases that list a repository's entries (spec §6–8). A Catalog reads
 * one from its uncompressed bytes; writeCatalog writes one from scratch in the exact schema the
 * CVMFS 2.11 server writes (revision 6), with path hashes, flags, xattr blobs, chunk rows, nested
 * catalog references and statistics counters.
 */
export { Catalog } from './catalog.js';
export type { Counters } from './counters.js';
export { addCounters, COUNTER_FIELDS, countEntries, zeroCounters } from './counters.js';
export type { Chunk, Dirent, EntryKind, NestedCatalogRef } from './dirent.js';
export {
  entryKind,
  parentPath,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from './dirent.js';
export { decodeFlags, encodeFlags, Flag } from './flags.js';
export type { PathKey } from './path-hash.js';
export { keyString, pathKey, ROOT_PARENT_KEY } from './path-hash.js';
export { CATALOG_SCHEMA, CATALOG_SCHEMA_REVISION } from './schema.js';
export type { CatalogContent, WrittenCatalog } from './write-catalog.js';
export { NULL_HASH, writeCatalog } from './write-catalog.js';
export { decodeXattrs, encodeXattrs, XATTR_LIMITS } from './xattr-blob.js';
