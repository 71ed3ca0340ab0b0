import { BargeError } from '../error/index.js';
import { FsObjectStore } from './fs-store.js';
import type { ObjectStore } from './object-store.js';
import { parseS3Config, type S3StorageConfig, s3Credentials } from './s3-config.js';
import { S3ObjectStore } from './s3-store.js';

/** Where a repository keeps its served files: the local directory (default) or an S3 bucket. */
export type StorageConfig = { type: 'fs' } | S3StorageConfig;

/** The default: files under `<data>/repos/<fqrn>/`. */
export const FS_STORAGE: StorageConfig = { type: 'fs' };

/** Validates the `storage` section of repository.json (absent = fs); `where` names the file. */
export function parseStorageConfig(input: unknown, where: string): StorageConfig {
  if (input === undefined || input === null) return FS_STORAGE;
  const o = input as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) {
    throw new BargeError('INVALID_ARGUMENT', `${where}: storage must be {"type": "fs"} or {"type": "s3", …}`);
  }
  if (o.type === 'fs') return FS_STORAGE;
  if (o.type === 's3') return parseS3Config(o, where);
  throw new BargeError('INVALID_ARGUMENT', `${where}: storage.type must be "fs" or "s3"`);
}

/**
 * Opens the object store of one repository: the directory `served` for fs storage, else the
 * bucket, at `<prefix><fqrn>/`, with credentials from the environment or the configured file.
 * The one place where a repository's store is made (publisher, init, uploads, readers, serve).
 */
export function openObjectStore(
  paths: { fqrn: string; served: string },
  config: { durable: boolean; storage?: StorageConfig },
  env: NodeJS.ProcessEnv = process.env,
): ObjectStore {
  const storage = config.storage ?? FS_STORAGE;
  if (storage.type === 'fs') return new FsObjectStore(paths.served, { durable: config.durable });
  const credentials = s3Credentials(storage, env);
  return new S3ObjectStore({
    endpoint: storage.endpoint,
    bucket: storage.bucket,
    region: storage.region,
    root: `${storage.prefix}${paths.fqrn}/`,
    maxSockets: storage.concurrency,
    ...(credentials ? { credentials } : {}),
  });
}

/** Where clients read a repository of this storage: its directory, or its URL in the bucket. */
export function storageLocation(
  paths: { fqrn: string; served: string },
  storage: StorageConfig | undefined,
): string {
  if (!storage || storage.type === 'fs') return paths.served;
  return `${storage.endpoint}/${storage.bucket}/${storage.prefix}${paths.fqrn}`;
}
