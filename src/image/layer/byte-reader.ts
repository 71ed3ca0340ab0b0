import { BargeError } from '../../error/index.js';

/** A stream of bytes: a Node Readable (without an encoding) or any async iterable of byte chunks. */
export type ByteSource = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * Pulls bytes from a source only when asked for them, so a slow consumer holds the producer back
 * (backpressure) and memory stays at the chunks in hand: at most one source chunk plus what a
 * single read() asked for.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array | string>;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes consumed so far: the stream offset of the next byte. */
  position = 0;

  constructor(source: ByteSource) {
    this.it = (source as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or fewer only when the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n && (await this.pull()));
    return this.take(Math.min(n, this.buffered));
  }

  /** Up to n bytes as they arrived (no copy); empty only at the end of the stream. */
  async readUpTo(n: number): Promise<Buffer> {
    while (this.buffered === 0 && (await this.pull()));
    return this.take(Math.min(n, this.chunks[0]?.length ?? 0));
  }

  /** Skips n bytes; returns how many there were (fewer only at the end of the stream). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const got = (await this.readUpTo(left)).length;
      if (got === 0) break;
      left -= got;
    }
    return n - left;
  }

  /** Reads and discards the rest of the stream, so that digests checked upstream see every byte. */
  async drain(): Promise<void> {
    this.position += this.buffered;
    this.chunks.length = 0;
    this.buffered = 0;
    while (await this.pull()) {
      this.position += this.chunks[0]?.length ?? 0;
      this.chunks.length = 0;
      this.buffered = 0;
    }
  }

  /** Stops the source early (closing files, killing decompressors) when reading ends before it does. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.it.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = toBuffer(next.value);
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return true;
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    this.position += n;
    const first = this.chunks[0];
    if (first === undefined || n === 0) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    // A read across chunk boundaries (a header split between two source chunks) is copied.
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}

/** A stream chunk as a Buffer (a view, not a copy); text is refused, layers are bytes. */
export function toBuffer(value: Uint8Array | string): Buffer {
  if (typeof value === 'string') {
    throw new BargeError('INVALID_ARGUMENT', 'a layer stream yielded text instead of bytes', {
      hint: 'do not set an encoding on streams of layers',
    });
  }
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
}
