/**
 * Storage: the ObjectStore contract (has, get, size, put, delete, list, flush) and its backends.
 * The filesystem store is the embedded default and lays files out as a stratum 0 serves them; an
 * in-memory store serves tests. Backend errors stay inside their backend as BargeErrors.
 */

export type { FsStoreOptions } from './fs-store.js';
export { FsObjectStore, ioError } from './fs-store.js';
export { MemoryObjectStore } from './memory-store.js';
export type { ObjectStore, PutOptions, StoredObject } from './object-store.js';
export { syncFilesystem } from './sync-filesystem.js';
