import { existsSync, readFileSync } from 'node:fs';
import { BargeError } from '../error/index.js';
import { readRepositoryConfig } from '../publish/repository-config.js';
import {
  type OpenedSource,
  openSource,
  openStoreSource,
  RepositoryReader,
  repositoryPaths,
  validateFqrn,
} from '../repository/index.js';
import { openObjectStore, storageLocation } from '../storage/index.js';

/**
 * Opens a repository named on the command line: a fqrn of the local data directory (its own
 * public key by default), an http(s) URL or a served directory (then --key is required).
 */
export async function openReader(
  spec: string,
  options: { data: string; key?: string[]; verify?: boolean },
): Promise<{ reader: RepositoryReader; source: OpenedSource }> {
  let location = spec;
  let keys = options.key ?? [];
  let fqrn: string | undefined;
  let opened: OpenedSource | undefined;
  if (!spec.includes('/') && spec.includes('.') && !existsSync(spec)) {
    fqrn = validateFqrn(spec);
    const paths = repositoryPaths(options.data, spec);
    location = paths.served;
    if (keys.length === 0) keys = [`${paths.keys}/${spec}.pub`];
    // A repository kept in S3 is read from its bucket (a served directory without a config is read as one).
    const config = await readRepositoryConfig(paths.state, spec).catch(() => undefined);
    if (config && config.storage.type !== 'fs') {
      location = storageLocation(paths, config.storage);
      opened = openStoreSource(openObjectStore(paths, config), location);
    }
  }
  if (options.verify !== false && keys.length === 0) {
    throw new BargeError('KEY_NOT_FOUND', `a master public key is needed to verify ${spec}`, {
      hint: 'pass --key <fqrn>.pub (what clients use as CVMFS_PUBLIC_KEY)',
    });
  }
  const publicKeysPem = keys
    .flatMap((k) => k.split(':'))
    .map((file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (cause) {
        throw new BargeError('KEY_NOT_FOUND', `cannot read the public key ${file}`, {
          cause,
          hint: 'check the --key path',
        });
      }
    });
  const source = opened ?? (await openSource(location));
  try {
    const reader = await RepositoryReader.open(source, {
      publicKeysPem,
      ...(fqrn ? { fqrn } : {}),
      verify: options.verify !== false,
    });
    return { reader, source };
  } catch (err) {
    source.close();
    throw err;
  }
}

/** Opens a repository for the duration of `use`, then releases it. */
export async function withReader<T>(
  spec: string,
  options: { data: string; key?: string[] | undefined },
  use: (reader: RepositoryReader) => Promise<T>,
): Promise<T> {
  const { reader, source } = await openReader(spec, {
    data: options.data,
    ...(options.key ? { key: options.key } : {}),
  });
  try {
    return await use(reader);
  } finally {
    await reader.close();
    source.close();
  }
}
