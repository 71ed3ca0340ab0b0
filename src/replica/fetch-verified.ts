import { BargeError } from '../error/index.js';
import { type HashText, hashAlgorithm, hashBytes, type ObjectSuffix, objectPath } from '../object/index.js';
import type { RepositorySource } from '../repository/index.js';

/**
 * Fetches an object and returns its bytes only if they hash to its name. A body damaged in
 * transit (a flaky proxy, a bit flip on the way) is fetched again, up to `attempts` times in
 * all, as the cvmfs client retries another proxy; then OBJECT_CORRUPT. Nothing is written
 * before the check, so a corrupt object can never land in the replica.
 */
export async function fetchVerified(
  source: RepositorySource,
  hash: HashText,
  suffix: ObjectSuffix,
  attempts = 3,
): Promise<Buffer> {
  const key = objectPath(hash, suffix);
  const algorithm = hashAlgorithm(hash);
  let got = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const data = await source.fetch(key);
    got = hashBytes(data, algorithm);
    if (got === hash) return data;
  }
  throw new BargeError(
    'OBJECT_CORRUPT',
    `${key} from ${source.location} does not match its hash (${attempts} attempts): refused`,
    {
      hint: 'the source or a proxy on the way serves damaged bytes; run barge fsck on the source, or bypass the proxy (no_proxy)',
      details: { key, got, attempts },
    },
  );
}
