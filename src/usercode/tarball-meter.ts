import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BargeError } from '../error/index.js';
import { tarballError } from './tarball-error.js';
import { BOMB_FLOOR_BYTES, type TarballLimits } from './tarball-limits.js';

/** An upload body: a Node Readable (an HTTP request) or any async iterable of byte chunks. */
export type TarballBody = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * Counts an upload on both sides of the decompressor and enforces the limits that are about
 * volume, as the bytes flow: raw bytes against maxTarballBytes (so an endless body stops at the
 * limit, not at the end), inflated bytes against maxRatio times the raw bytes read so far (so a
 * bomb stops after a few MB of output, not after inflating gigabytes). The SHA-256 of the raw
 * bytes is the upload's id.
 *
 * The decompressors read ahead of what they output, so at any moment the raw count is an
 * over-estimate of what produced the output: the ratio is under-estimated, never over.
 */
export class TarballMeter {
  /** Raw (as uploaded) bytes read so far. */
  compressed = 0;
  /** Uncompressed tar bytes produced so far. */
  inflated = 0;
  /** The member being read, for messages. */
  entry: string | undefined;
  private readonly sha = createHash('sha256');
  private ended = false;

  constructor(
    private readonly limits: TarballLimits,
    private readonly label: string,
  ) {}

  /** True once the body has been read to its end (the digest covers every byte). */
  get complete(): boolean {
    return this.ended;
  }

  /** Hex SHA-256 of the raw bytes; call once, after the body was read to its end. */
  digest(): string {
    return this.sha.digest('hex');
  }

  /** The body's bytes, counted and hashed as they pass. */
  async *raw(body: TarballBody): AsyncGenerator<Buffer, void, undefined> {
    for await (const value of chunksOf(body)) {
      const chunk = bytes(value);
      this.compressed += chunk.length;
      if (this.compressed > this.limits.maxTarballBytes) {
        throw tarballError(
          'TARBALL_TOO_LARGE',
          `the upload is larger than the limit of ${this.limits.maxTarballBytes} bytes`,
          this.place(),
          { details: { limit: this.limits.maxTarballBytes } },
        );
      }
      this.sha.update(chunk);
      yield chunk;
    }
    this.ended = true;
  }

  /** The decompressed tar stream, counted; refused once it inflates past maxRatio. */
  async *inflate(tar: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
    for await (const chunk of tar) {
      this.inflated += chunk.length;
      if (this.inflated > BOMB_FLOOR_BYTES && this.inflated > this.limits.maxRatio * this.compressed) {
        throw tarballError(
          'TARBALL_BOMB',
          `${this.compressed} uploaded bytes inflated to ${this.inflated}, over ${this.limits.maxRatio} times as many: a decompression bomb`,
          this.place(),
          { details: { compressedBytes: this.compressed, uncompressedBytes: this.inflated } },
        );
      }
      yield chunk;
    }
  }

  private place() {
    return this.entry === undefined ? { label: this.label } : { label: this.label, entry: this.entry };
  }
}

/**
 * Iterates a body. A Readable is iterated without being destroyed when reading stops early:
 * the body belongs to the caller, and an HTTP server must still be able to answer a refused
 * upload on the request's socket (destroying the request would destroy the socket).
 */
function chunksOf(body: TarballBody): AsyncIterable<Uint8Array | string> {
  const readable = body as Partial<Readable>;
  if (typeof readable.iterator === 'function') return readable.iterator({ destroyOnReturn: false });
  return body as AsyncIterable<Uint8Array | string>;
}

function bytes(value: Uint8Array | string): Buffer {
  if (typeof value === 'string') {
    throw new BargeError('INVALID_ARGUMENT', 'an upload body yielded text instead of bytes', {
      hint: 'do not set an encoding on the request stream',
    });
  }
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
}
