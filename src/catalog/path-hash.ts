import { hash } from 'node:crypto';

/** The key of a catalog row: MD5 of the path split into two little-endian signed 64-bit integers (spec §3). */
export type PathKey = readonly [bigint, bigint];

/** The parent key of the repository root: the all-zero hash, not MD5 of anything. */
export const ROOT_PARENT_KEY: PathKey = [0n, 0n];

/**
 * MD5 of the absolute repository path as bytes, no trailing slash, root = '' (spec §3). Column 1
 * is digest bytes 0–7: JS numbers would silently corrupt these keys, hence BigInt.
 */
export function pathKey(path: string): PathKey {
  // One-shot hash to hex, parsed through a reused buffer: createHash() costs an object and option
  // parsing per call, and a Buffer result another allocation, together 3× the MD5 of a path
  // (an image's catalog hashes 14,000 paths).
  KEY_BYTES.write(hash('md5', path, 'hex'), 'hex');
  return [KEY_BYTES.readBigInt64LE(0), KEY_BYTES.readBigInt64LE(8)];
}

const KEY_BYTES = Buffer.alloc(16);

/** A string form of a key for Map lookups. */
export function keyString(key: PathKey): string {
  return `${key[0]}:${key[1]}`;
}
