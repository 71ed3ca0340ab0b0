import { promises as fsp } from 'node:fs';
import { BargeError, errnoCode } from '../error/index.js';
import {
  certificateFingerprint,
  createWhitelist,
  generateRepositoryKeys,
  type RepositoryKeys,
  ROOT_PATH_MD5,
  readRepositoryKeys,
  writeRepositoryKeys,
} from '../manifest/index.js';
import { compress, hashBytes, objectPath } from '../object/index.js';
import { type RepositoryPaths, repositoryPaths } from '../repository/data-dir.js';
import {
  FsObjectStore,
  type ObjectStore,
  openObjectStore,
  S3ObjectStore,
  storageLocation,
} from '../storage/index.js';
import { directoryEntry } from './publish-directory.js';
import { Publisher, type PublishResult } from './publisher.js';
import {
  parseRepositoryConfig,
  type RepositoryConfig,
  readRepositoryConfig,
  writeRepositoryConfig,
} from './repository-config.js';
import { RepositoryLock } from './repository-lock.js';

/** Options of initRepository (the rest of RepositoryConfig takes its defaults). */
export type InitOptions = Partial<Omit<RepositoryConfig, 'fqrn'>>;

/**
 * Creates a repository as `cvmfs_server mkfs` does: keys (kept if the key directory already has
 * them), a self-signed certificate object, a whitelist signed by the master key, and a first
 * revision holding an empty root directory. The manifest is written last, so a crashed init
 * leaves no repository that looks valid; running init again finishes it.
 */
export async function initRepository(
  dataDir: string,
  fqrn: string,
  options: InitOptions = {},
): Promise<PublishResult & { paths: RepositoryPaths }> {
  const paths = repositoryPaths(dataDir, fqrn);
  const config = parseRepositoryConfig({ ...options, fqrn });
  const lock = await RepositoryLock.acquire(paths.state, 'barge init');
  try {
    const store = openObjectStore(paths, config);
    if (await store.has('.cvmfspublished')) {
      throw new BargeError(
        'REPO_EXISTS',
        `repository ${fqrn} already exists in ${storageLocation(paths, config.storage)}`,
        {
          hint: 'publish into it, or choose another name',
        },
      );
    }
    if (store instanceof FsObjectStore) await store.initLayout();
    else {
      // The served directory stays, empty, so that what lists repositories by repos/ finds it.
      await fsp.mkdir(paths.served, { recursive: true });
      if (store instanceof S3ObjectStore) await store.ensureBucket();
    }
    const keys = await loadOrCreateKeys(paths, fqrn);
    await writeRepositoryConfig(paths.state, config);
    const z = await compress(Buffer.from(keys.certificatePem));
    const certificate = hashBytes(z, config.hashAlgorithm);
    await store.put(objectPath(certificate, 'X'), z, { ifAbsent: true });
    await writeWhitelist(store, keys, fqrn, config.whitelistDays);
    await store.put(
      '.cvmfs_master_replica',
      Buffer.from('This file marks the repository as replicatable to stratum 1 servers\n'),
    );
    // Bootstrap manifest naming no catalog yet is never written; the first revision is built
    // from an empty tree and committed through the normal path.
    const boot = {
      rootHash: '0'.repeat(40),
      rootSize: 0,
      rootPathHash: ROOT_PATH_MD5,
      ttl: config.ttl,
      revision: 0,
      garbageCollectable: true,
      alternativePaths: false,
      fqrn,
      certificate,
      timestamp: 0,
      unknownKeys: {},
    };
    // The publisher takes the lock over and releases it on close.
    const publisher = Publisher.bootstrap(paths, config, store, keys, lock, boot);
    try {
      const result = await publisher.applyChanges(async (tree) => {
        await tree.put(directoryEntry('', config.hashAlgorithm));
      });
      return { ...result, paths };
    } finally {
      await publisher.close();
    }
  } finally {
    await lock.release();
  }
}

/** Renews the whitelist (`cvmfs_server resign`): same certificate, new expiry. */
export async function resignWhitelist(dataDir: string, fqrn: string, days?: number): Promise<Date> {
  const paths = repositoryPaths(dataDir, fqrn);
  const config = await readRepositoryConfig(paths.state, fqrn);
  const lock = await RepositoryLock.acquire(paths.state, 'barge resign');
  try {
    const keys = await readRepositoryKeys(paths.keys, fqrn);
    const store = openObjectStore(paths, config);
    return await writeWhitelist(store, keys, fqrn, days ?? config.whitelistDays);
  } finally {
    await lock.release();
  }
}

async function writeWhitelist(
  store: ObjectStore,
  keys: RepositoryKeys,
  fqrn: string,
  days: number,
): Promise<Date> {
  const created = new Date();
  const expires = new Date(created.getTime() + days * 86_400_000);
  const whitelist = createWhitelist(
    { fqrn, fingerprints: [certificateFingerprint(keys.certificatePem)], created, expires },
    keys.masterKeyPem,
  );
  await store.put('.cvmfswhitelist', whitelist);
  await store.flush();
  return expires;
}

async function loadOrCreateKeys(paths: RepositoryPaths, fqrn: string): Promise<RepositoryKeys> {
  try {
    return await readRepositoryKeys(paths.keys, fqrn);
  } catch (err) {
    if ((err as BargeError).code !== 'KEY_NOT_FOUND') throw err;
  }
  const keys = await generateRepositoryKeys(fqrn);
  await fsp.mkdir(paths.keys, { recursive: true, mode: 0o700 }).catch((err) => {
    if (errnoCode(err) !== 'EEXIST') throw err;
  });
  await writeRepositoryKeys(paths.keys, fqrn, keys);
  return keys;
}
