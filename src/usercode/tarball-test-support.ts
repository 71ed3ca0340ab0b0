/**
 * For this folder's tarball tests only (not exported): a writer over an in-memory store, content
 * read back by hash, compressors run as the real tools, and error assertions.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import type { Dirent } from '../catalog/index.js';
import { type BargeError, type ErrorCode, isBargeError } from '../error/index.js';
import { type ChunkSizes, DEFAULT_CHUNK_SIZES, decompress, objectPath } from '../object/index.js';
import { ObjectWriter } from '../publish/index.js';
import { MemoryObjectStore } from '../storage/index.js';

/** A writer over a fresh in-memory store (sha1, the CVMFS default). */
export function memoryWriter(chunkSizes: ChunkSizes = DEFAULT_CHUNK_SIZES) {
  const store = new MemoryObjectStore();
  return { store, writer: new ObjectWriter(store, { algorithm: 'sha1', chunkSizes }) };
}

/** A file's content as stored: its whole object, or its chunks in order. */
export async function storedContent(store: MemoryObjectStore, d: Dirent): Promise<Buffer> {
  const keys = d.hash ? [objectPath(d.hash, '')] : d.chunks.map((c) => objectPath(c.hash, 'P'));
  const parts = await Promise.all(keys.map(async (key) => decompress(await store.get(key), key)));
  return Buffer.concat(parts);
}

/** A buffer as a stream of chunks of `size` bytes. */
export async function* chunked(bytes: Buffer, size = 64 * 1024): AsyncGenerator<Buffer, void, undefined> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** gzip, as any client makes it. */
export function gzip(bytes: Buffer): Buffer {
  return gzipSync(bytes);
}

/** zstd, by the real zstd command. */
export function zstd(bytes: Buffer): Buffer {
  return execFileSync('zstd', ['-c', '-q', '-3'], { input: bytes, maxBuffer: 1 << 30 });
}

/** Runs the real GNU tar with `args`; returns the archive it writes to stdout. */
export function gnuTar(args: string[], cwd: string): Buffer {
  return execFileSync('tar', args, { cwd, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Asserts that `work` fails with a BargeError of `code` whose message matches every pattern. */
export async function rejectsWith(
  work: Promise<unknown>,
  code: ErrorCode,
  ...patterns: RegExp[]
): Promise<BargeError> {
  let caught: unknown;
  try {
    await work;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but it succeeded`);
  assert.ok(
    isBargeError(caught, code),
    `expected ${code}, got ${String((caught as Error)?.stack ?? caught)}`,
  );
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}
