import { createHash } from 'node:crypto';
import { BargeError } from '../../error/index.js';
import type { ByteSource } from './byte-reader.js';

/** A content digest (OCI image spec, descriptor.md "Digests"): the registered algorithms only. */
export interface ParsedDigest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
}

/** What a blob must be: its digest and size, from a descriptor. */
export interface BlobExpectation {
  digest: string;
  size: number;
}

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/**
 * Splits and checks a digest. Strict on purpose: digests become file names (blobs/sha256/<hex>),
 * so anything but lower-case hex of the right length is refused before it reaches a path.
 */
export function parseDigest(digest: string, where: string): ParsedDigest {
  if (!DIGEST.test(digest)) {
    throw new BargeError(
      'IMAGE_INVALID',
      `${where}: ${JSON.stringify(digest)} is not a sha256 or sha512 digest`,
      {
        hint: 'the image metadata is damaged; export or fetch the image again',
      },
    );
  }
  const [algorithm, hex] = digest.split(':') as ['sha256' | 'sha512', string];
  return { algorithm, hex };
}

/**
 * Passes a blob's bytes through while hashing and counting them. More bytes than expected fail
 * at once (a blob cannot be made to stream forever); a wrong digest or a short blob fails at the
 * end, after the last chunk has been handed on: consumers must treat what they read as
 * unverified until the iteration has ended without an error.
 */
export async function* verifyBlob(
  source: ByteSource,
  expected: BlobExpectation,
  where: string,
): AsyncGenerator<Buffer, void, undefined> {
  const { algorithm } = parseDigest(expected.digest, where);
  const hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > expected.size)
      throw mismatch(
        expected,
        where,
        `is longer than the ${expected.size} bytes its descriptor says`,
        'BLOB_SIZE_MISMATCH',
      );
    hash.update(chunk);
    yield chunk;
  }
  if (size !== expected.size)
    throw mismatch(
      expected,
      where,
      `has ${size} bytes, not the ${expected.size} its descriptor says`,
      'BLOB_SIZE_MISMATCH',
    );
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== expected.digest) throw mismatch(expected, where, `has digest ${actual}`);
}

/** A small blob (manifest, config) read whole and verified; refused unread when larger than `limit`. */
export async function readVerifiedBlob(
  source: ByteSource,
  expected: BlobExpectation,
  where: string,
  limit: number,
): Promise<Buffer> {
  if (expected.size > limit) {
    throw new BargeError(
      'IMAGE_INVALID',
      `${where}: blob ${expected.digest} is ${expected.size} bytes, over the ${limit}-byte limit for metadata`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of verifyBlob(source, expected, where)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function mismatch(
  expected: BlobExpectation,
  where: string,
  what: string,
  code: 'BLOB_DIGEST_MISMATCH' | 'BLOB_SIZE_MISMATCH' = 'BLOB_DIGEST_MISMATCH',
): BargeError {
  return new BargeError(code, `${where}: blob ${expected.digest} ${what}`, {
    hint: 'the blob is damaged or was replaced; fetch or export the image again',
    details: { digest: expected.digest, size: expected.size },
  });
}
