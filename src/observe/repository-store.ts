import { existsSync } from 'node:fs';
import { type RepositoryConfig, readRepositoryConfig } from '../publish/index.js';
import { repositoryPaths } from '../repository/index.js';
import { FsObjectStore, type ObjectStore, openObjectStore } from '../storage/index.js';

/** The served files of one repository, opened for reading, and its settings if this data directory writes it. */
export interface ServedStore {
  store: ObjectStore;
  config: RepositoryConfig | undefined;
  /** Releases the store's connections (an S3 store keeps a pool). */
  close(): void;
}

/**
 * Opens the served files of `fqrn` wherever they live: `<data>/repos/<fqrn>/`, or the S3 bucket
 * its repository.json names. A repository without settings here (a replica, a copied tree) is read
 * from its directory.
 */
export async function openServedStore(dataDir: string, fqrn: string): Promise<ServedStore> {
  const paths = repositoryPaths(dataDir, fqrn);
  const config = existsSync(paths.state)
    ? await readRepositoryConfig(paths.state, fqrn).catch(() => undefined)
    : undefined;
  const store =
    config?.storage.type === 's3'
      ? openObjectStore(paths, { durable: false, storage: config.storage })
      : new FsObjectStore(paths.served, { durable: false });
  return { store, config, close: () => (store as { close?: () => void }).close?.() };
}
