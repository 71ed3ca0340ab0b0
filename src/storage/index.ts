/**
 * Storage: the ObjectStore contract (has, get, size, put, delete, list, flush) and its backends.
 * The filesystem store is the embedded default and lays files out as a stratum 0 serves them; the
 * S3 store keeps the same layout in a bucket (Ceph RGW, MinIO, AWS); an in-memory store serves
 * tests. openObjectStore makes a repository's store from its configuration. Backend errors stay
 * inside their backend as BargeErrors.
 */

export type { FsStoreOptions } from './fs-store.js';
export { FsObjectStore, ioError } from './fs-store.js';
export { MemoryObjectStore } from './memory-store.js';
export { missingKeys } from './missing-keys.js';
export type { ObjectStore, PutOptions, StoredObject } from './object-store.js';
export {
  FS_STORAGE,
  openObjectStore,
  parseStorageConfig,
  type StorageConfig,
  storageLocation,
} from './open-store.js';
export { type S3StorageConfig, s3Credentials } from './s3-config.js';
export { type ObjectRead, S3ObjectStore, type S3StoreOptions } from './s3-store.js';
export { syncFilesystem } from './sync-filesystem.js';
