import { createHash, type Hash } from 'node:crypto';
import { BargeError } from '../error/index.js';

/** Content hash algorithms of CVMFS, in the order the catalog flags persist them (spec §2). */
export type HashAlgorithm = 'sha1' | 'rmd160' | 'shake128';

/** Flag value (bits 8–10 of catalog flags) of each algorithm: enum value − 1. */
export const ALGORITHM_FLAG: Record<HashAlgorithm, number> = { sha1: 0, rmd160: 1, shake128: 2 };
const FLAG_ALGORITHM: HashAlgorithm[] = ['sha1', 'rmd160', 'shake128'];

/** The suffix CVMFS appends to the hex digest in hash text ("" for SHA-1). */
const ALGORITHM_ID: Record<HashAlgorithm, string> = { sha1: '', rmd160: '-rmd160', shake128: '-shake128' };

/**
 * A content hash in CVMFS text form: lowercase hex digest plus the algorithm id, without the
 * object suffix (e.g. `e8ec…6b78`, `ab…-shake128`). This is what manifests and
 * `nested_catalogs.sha1` hold, and what barge passes around.
 */
export type HashText = string;

/** The algorithm stored in catalog flags bits 8–10. */
export function algorithmFromFlag(value: number): HashAlgorithm {
  const algo = FLAG_ALGORITHM[value];
  if (!algo) throw new BargeError('CATALOG_INVALID', `unknown hash algorithm ${value} in catalog flags`);
  return algo;
}

/** Starts an incremental hash of the given algorithm (SHAKE-128 squeezed to 160 bits, as CVMFS does). */
export function newHasher(algo: HashAlgorithm): Hash {
  switch (algo) {
    case 'sha1':
      return createHash('sha1');
    case 'rmd160':
      return createHash('ripemd160');
    case 'shake128':
      return createHash('shake128', { outputLength: 20 });
  }
}

/** The hash text of `data` (over the bytes as given: for objects, the compressed bytes). */
export function hashBytes(data: Uint8Array, algo: HashAlgorithm): HashText {
  return toHashText(newHasher(algo).update(data).digest(), algo);
}

/** Hash text from a raw 20-byte digest (as catalogs store it in the `hash` BLOB). */
export function toHashText(digest: Uint8Array, algo: HashAlgorithm): HashText {
  return (
    Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex') + ALGORITHM_ID[algo]
  );
}

/** The algorithm of a hash text, decided by its length as the CVMFS parser does (40/47/49). */
export function hashAlgorithm(text: HashText): HashAlgorithm {
  switch (text.length) {
    case 40:
      return 'sha1';
    case 47:
      if (text.endsWith('-rmd160')) return 'rmd160';
      break;
    case 49:
      if (text.endsWith('-shake128')) return 'shake128';
      break;
  }
  throw new BargeError('MANIFEST_INVALID', `'${text}' is not a CVMFS content hash`, {
    hint: 'expected 40 hex digits, optionally followed by -rmd160 or -shake128',
  });
}

/** The raw digest bytes of a hash text (for the catalog `hash` BLOB). */
export function hashDigest(text: HashText): Buffer {
  return Buffer.from(text.slice(0, 40), 'hex');
}

/** Whether `text` is a well-formed lowercase CVMFS hash text. */
export function isHashText(text: string): boolean {
  return /^[0-9a-f]{40}(-rmd160|-shake128)?$/.test(text);
}
