import { createHash } from 'node:crypto';
import { closeSync, promises as fsp, fstatSync, openSync, readSync } from 'node:fs';
import type { Chunk } from '../catalog/index.js';
import { BargeError, errnoCode } from '../error/index.js';
import {
  type ChunkSizes,
  compress,
  DEFAULT_CHUNK_SIZES,
  type HashAlgorithm,
  type HashText,
  hashBytes,
  type ObjectSuffix,
  objectPath,
  Xor32Chunker,
} from '../object/index.js';
import type { ObjectStore } from '../storage/index.js';
import { failpoint } from './failpoint.js';
import { type IngestPool, POOL_FILE_LIMIT } from './ingest-pool.js';
import type { ContentRef, PublishState } from './publish-state.js';

/** Options of an ObjectWriter. */
export interface ObjectWriterOptions {
  algorithm: HashAlgorithm;
  /** Worker threads for whole files (filesystem stores); made on first use, closed by close(). */
  pool?: () => IngestPool;
  /** Cut files larger than `min` into chunks (cvmfs default on); null turns chunking off. */
  chunkSizes: ChunkSizes | null;
  state?: PublishState;
}

/** Counters of one writer's work, for reports and benchmarks. */
export interface WriterStats {
  filesRead: number;
  bytesRead: number;
  objectsWritten: number;
  bytesWritten: number;
  /** Contents found in the content cache or already in flight: not compressed again. */
  contentsDeduplicated: number;
}

/** Content plus the SHA-256 of its plain bytes (the content-cache key). */
export interface IngestedContent extends ContentRef {
  sha256: Buffer;
}

/** Expected stat of a source file, taken when the tree was scanned. */
export interface ExpectedStat {
  size: bigint;
  mtimeNs: bigint;
}

const READ_BLOCK = 4 << 20;
/**
 * Content handed to the worker threads and not stored yet, at most: readers wait (ready()) above
 * it. Four maximal chunks: enough to keep every worker busy while the next chunk is read.
 */
const IN_FLIGHT_BYTES = 64 << 20;
/** Content is handed to worker threads once this much has come (before, this thread compresses it). */
const POOL_START_BYTES = 256 * 1024;
/** Objects from this size on compress on a worker thread (chunks are megabytes). */
const POOL_OBJECT_MIN = 256 * 1024;
/** Files up to this size are read synchronously and stored whole. */
const SYNC_READ_LIMIT = 4 << 20;

/**
 * Turns content into objects: read → (chunk) → zlib → hash → store, as cvmfs' ingestion pipeline
 * does (spec §1.2, §8). Compression runs on libuv's thread pool, so callers keep several files in
 * flight to use every core. Identical content (by SHA-256 of the plain bytes) is compressed once
 * per writer and, with a PublishState, once per repository.
 */
export class ObjectWriter {
  readonly stats: WriterStats = {
    filesRead: 0,
    bytesRead: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    contentsDeduplicated: 0,
  };
  /** Content results of this writer, to be recorded in the content cache on success. */
  readonly newContents: { sha256: Buffer; content: ContentRef }[] = [];
  private readonly inFlight = new Map<string, Promise<ContentRef>>();
  private pool: IngestPool | undefined;
  /** Bytes of content given to ingestParts so far. */
  private handedOver = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: ObjectWriterOptions,
  ) {}

  /** Stops the worker threads, if any were started. */
  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }

  /** Content up to this many bytes is stored as one object; larger content may be chunked. */
  get wholeObjectLimit(): number {
    return this.options.chunkSizes ? this.options.chunkSizes.min : Number.POSITIVE_INFINITY;
  }

  /**
   * Compresses, hashes and stores one object; returns its hash text. Large objects (chunks of big
   * files) go to the worker threads when the writer has a pool: there they compress with
   * libdeflate while the main thread goes on reading.
   */
  async putObject(
    data: Uint8Array,
    suffix: ObjectSuffix,
    options: { transfer?: boolean } = {},
  ): Promise<{ hash: HashText }> {
    if (this.options.pool && data.length >= POOL_OBJECT_MIN && (suffix === '' || suffix === 'P')) {
      this.pool ??= this.options.pool();
      const { hash, bytesWritten } = await this.pool.storeObject(data, suffix, options);
      if (bytesWritten > 0) {
        this.stats.objectsWritten++;
        this.stats.bytesWritten += bytesWritten;
      }
      return { hash };
    }
    const z = await compress(data);
    const hash = hashBytes(z, this.options.algorithm);
    if (await this.store.put(objectPath(hash, suffix), z, { ifAbsent: true })) {
      this.stats.objectsWritten++;
      this.stats.bytesWritten += z.length;
      failpoint('object');
    }
    return { hash };
  }

  /** Ingests a whole buffer of file content. */
  ingestBuffer(data: Buffer): Promise<IngestedContent> {
    return this.ingestParts([data], data.length);
  }

  /**
   * Ingests content given as parts (views of a stream's buffers are fine: they are copied or
   * hashed before this returns, unless a content-cache hit must first be checked against the
   * store). With worker threads, the parts are copied into the pool's next batch: the main
   * thread only hashes (SHA-256, for deduplication) and copies.
   */
  ingestParts(parts: readonly Buffer[], size: number): Promise<IngestedContent> {
    const hasher = createHash('sha256');
    for (const p of parts) hasher.update(p);
    const sha256 = hasher.digest();
    return this.dedup(sha256, () => this.storeParts(parts, size)).then((c) => ({ ...c, sha256 }));
  }

  /** Whether content goes to worker threads (then readers should await ready()). */
  get pooled(): boolean {
    return this.options.pool !== undefined;
  }

  /**
   * Undefined while the writer can take more content; else a promise that resolves once the
   * worker threads have caught up (at most IN_FLIGHT_BYTES handed over and not yet stored).
   */
  ready(): Promise<void> | undefined {
    return this.pool?.ready(IN_FLIGHT_BYTES);
  }

  private storeParts(parts: readonly Buffer[], size: number): Promise<ContentRef> {
    this.handedOver += size;
    // Worker threads take ~0.1 s of CPU to start: not worth it for the few kilobytes of an image
    // built on a known base (its own small layer, Apptainer files, metadata).
    if (this.options.pool && (this.pool || this.handedOver > POOL_START_BYTES)) {
      this.pool ??= this.options.pool();
      return this.pool.storeContent(parts, size).then((r) => {
        this.stats.objectsWritten += r.objectsWritten;
        this.stats.bytesWritten += r.bytesWritten;
        return { hash: r.hash, chunks: r.chunks, size: r.size };
      });
    }
    return this.storeBuffer(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
  }

  private async storeBuffer(data: Buffer): Promise<ContentRef> {
    if (this.options.chunkSizes && data.length > this.options.chunkSizes.min) {
      const chunker = new Xor32Chunker(this.options.chunkSizes);
      const cuts = chunker.feed(data);
      if (cuts.length > 0) {
        const bounds = [0, ...cuts, data.length];
        const chunks = await Promise.all(
          bounds.slice(0, -1).map(async (start, i) => {
            const end = bounds[i + 1] as number;
            const { hash } = await this.putObject(data.subarray(start, end), 'P');
            return { offset: start, size: end - start, hash } satisfies Chunk;
          }),
        );
        return { hash: null, chunks, size: data.length };
      }
    }
    const { hash } = await this.putObject(data, '');
    return { hash, chunks: [], size: data.length };
  }

  /**
   * Ingests a source file, checking that it is the file that was scanned: a file that vanished,
   * grew, shrank or was rewritten while being published is SOURCE_CHANGED, never half-published.
   */
  async ingestFile(file: string, expected: ExpectedStat): Promise<IngestedContent> {
    if (this.options.pool && Number(expected.size) <= POOL_FILE_LIMIT) {
      this.pool ??= this.options.pool();
      const { objectsWritten, bytesWritten, ...content } = await this.pool.ingest(
        file,
        expected.size,
        expected.mtimeNs,
      );
      this.stats.filesRead++;
      this.stats.bytesRead += content.size;
      this.stats.objectsWritten += objectsWritten;
      this.stats.bytesWritten += bytesWritten;
      this.newContents.push({
        sha256: content.sha256,
        content: { hash: content.hash, chunks: content.chunks, size: content.size },
      });
      return content;
    }
    if (Number(expected.size) <= Math.min(this.wholeObjectLimit, SYNC_READ_LIMIT))
      return this.ingestSmallFile(file, expected);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch (err) {
      throw sourceError(err, file);
    }
    try {
      const before = await handle.stat({ bigint: true });
      checkUnchanged(file, expected, before);
      const size = Number(before.size);
      this.stats.filesRead++;
      this.stats.bytesRead += size;
      const result = await this.ingestChunked(readBlocks(handle, size, file), size, file);
      const after = await handle.stat({ bigint: true });
      if (
        after.size !== before.size ||
        after.mtimeNs !== before.mtimeNs ||
        after.ctimeNs !== before.ctimeNs
      ) {
        throw changed(file, 'it was modified while being read');
      }
      return result;
    } catch (err) {
      if (err instanceof BargeError) throw err;
      throw sourceError(err, file);
    } finally {
      await handle.close();
    }
  }

  /**
   * Small files are read with synchronous calls: open, fstat, read, fstat, close take microseconds
   * each, where five thread-pool round trips per file left a core idle (bench/publish profile).
   */
  private async ingestSmallFile(file: string, expected: ExpectedStat): Promise<IngestedContent> {
    let data: Buffer;
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      throw sourceError(err, file);
    }
    try {
      const before = fstatSync(fd, { bigint: true });
      checkUnchanged(file, expected, before);
      const size = Number(before.size);
      data = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const n = readSync(fd, data, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      if (got !== size) throw changed(file, 'it shrank while being read');
      const after = fstatSync(fd, { bigint: true });
      if (
        after.size !== before.size ||
        after.mtimeNs !== before.mtimeNs ||
        after.ctimeNs !== before.ctimeNs
      ) {
        throw changed(file, 'it was modified while being read');
      }
      this.stats.filesRead++;
      this.stats.bytesRead += size;
    } catch (err) {
      if (err instanceof BargeError) throw err;
      throw sourceError(err, file);
    } finally {
      closeSync(fd);
    }
    return this.ingestBuffer(data);
  }

  /**
   * Ingests content that arrives as a stream of blocks (a tar entry, an upload) of a known size.
   * Content up to the minimum chunk size is gathered and stored whole; larger content goes
   * through the chunker block by block. A stream that ends early or runs long is SOURCE_CHANGED.
   */
  async ingestStream(blocks: AsyncIterable<Buffer>, size: number, what: string): Promise<IngestedContent> {
    return (await this.startStream(blocks, size, what)).content;
  }

  /**
   * ingestStream that returns as soon as the stream has been read: `content` resolves when its
   * objects are stored. A tar reader goes on to the next entry while the last chunks of a large
   * file still compress (waiting for them left a core idle for each large file: 7 of 18 s of the
   * base image in bench/images). Memory stays bounded: reading waits while the workers lag.
   * (Wrapped: an async function cannot return a pending promise.)
   */
  async startStream(
    blocks: AsyncIterable<Buffer>,
    size: number,
    what: string,
  ): Promise<{ content: Promise<IngestedContent> }> {
    if (!this.options.chunkSizes || size <= this.options.chunkSizes.min) {
      const parts: Buffer[] = [];
      let got = 0;
      for await (const b of blocks) {
        parts.push(b);
        got += b.length;
      }
      if (got !== size) throw changed(what, `it has ${got} bytes, ${size} were announced`);
      return { content: this.ingestParts(parts, got) };
    }
    return this.readChunked(blocks, size, what);
  }

  /**
   * Ingests a source file larger than what is read at once: streams it through the chunker and
   * waits for its objects.
   */
  private async ingestChunked(
    blocks: AsyncIterable<Buffer>,
    size: number,
    what: string,
  ): Promise<IngestedContent> {
    return (await this.readChunked(blocks, size, what)).content;
  }

  /**
   * Streams large content through the chunker, handing each chunk over as it is cut; resolves
   * once the stream is read, to the stored content's promise. At most a few chunks are in memory
   * at once.
   */
  private async readChunked(
    blocks: AsyncIterable<Buffer>,
    size: number,
    what: string,
  ): Promise<{ content: Promise<IngestedContent> }> {
    const sizes = this.options.chunkSizes ?? DEFAULT_CHUNK_SIZES;
    const chunker = new Xor32Chunker(sizes);
    const sha = createHash('sha256');
    const pending: Promise<Chunk>[] = [];
    let parts: Buffer[] = [];
    let partStart = 0;
    let pos = 0;
    const emit = (end: number): void => {
      const offset = partStart;
      // A fresh buffer of its own: handed to a worker thread, not copied again.
      const data = Buffer.concat(parts, end - offset);
      const stored = this.putObject(data, 'P', { transfer: true }).then(({ hash }) => ({
        offset,
        size: end - offset,
        hash,
      }));
      // Failures surface when the content is awaited; until then they must not count as unhandled.
      stored.catch(() => {});
      pending.push(stored);
      parts = [];
      partStart = end;
    };
    for await (const data of blocks) {
      if (pos + data.length > size) throw changed(what, `it has more than the ${size} bytes announced`);
      sha.update(data);
      let consumed = 0;
      for (const cut of chunker.feed(data)) {
        parts.push(data.subarray(consumed, cut - pos));
        consumed = cut - pos;
        emit(cut);
        // Bound memory: with worker threads, by the bytes they have not stored yet; without,
        // wait for older chunks while more than two are compressing.
        if (this.pool) await this.ready();
        else if (pending.length > 2) await pending[pending.length - 3];
      }
      parts.push(data.subarray(consumed));
      pos += data.length;
    }
    if (pos !== size) throw changed(what, `it has ${pos} bytes, ${size} were announced`);
    const sha256 = sha.digest();
    if (pending.length === 0) {
      // A sole piece is stored as a whole-file object (cvmfs IsSolePiece).
      const data = Buffer.concat(parts, size);
      const content = this.dedup(sha256, async () => {
        const { hash } = await this.putObject(data, '', { transfer: true });
        return { hash, chunks: [], size };
      });
      return { content: content.then((c) => ({ ...c, sha256 })) };
    }
    emit(size);
    const content = this.dedup(sha256, async () => ({
      hash: null,
      chunks: await Promise.all(pending),
      size,
    }));
    return { content: content.then((c) => ({ ...c, sha256 })) };
  }

  /** Runs `produce` once per distinct content; later callers share the result. */
  private async dedup(sha256: Buffer, produce: () => Promise<ContentRef>): Promise<ContentRef> {
    const key = sha256.toString('hex');
    const running = this.inFlight.get(key);
    if (running) {
      this.stats.contentsDeduplicated++;
      return running;
    }
    const cached = this.options.state?.lookupContent(sha256);
    const promise = (async () => {
      if (cached && (await this.allStored(cached))) {
        this.stats.contentsDeduplicated++;
        return cached;
      }
      const content = await produce();
      this.newContents.push({ sha256, content });
      return content;
    })();
    this.inFlight.set(key, promise);
    return promise;
  }

  /** Whether every object of `ref` is in the store (cache hits are checked before they are trusted). */
  hasContent(ref: ContentRef): Promise<boolean> {
    return this.allStored(ref);
  }

  private async allStored(ref: ContentRef): Promise<boolean> {
    const keys = ref.hash ? [objectPath(ref.hash, '')] : ref.chunks.map((c) => objectPath(c.hash, 'P'));
    for (const key of keys) if (!(await this.store.has(key))) return false;
    return true;
  }
}

/** The blocks of an open file, READ_BLOCK bytes at a time; a file that shrinks is SOURCE_CHANGED. */
async function* readBlocks(handle: fsp.FileHandle, size: number, file: string): AsyncGenerator<Buffer> {
  for (let pos = 0; pos < size; ) {
    const block = Buffer.allocUnsafe(Math.min(READ_BLOCK, size - pos));
    const { bytesRead } = await handle.read(block, 0, block.length, pos);
    if (bytesRead === 0) throw changed(file, 'it shrank while being read');
    yield block.subarray(0, bytesRead);
    pos += bytesRead;
  }
}

function checkUnchanged(file: string, expected: ExpectedStat, st: { size: bigint; mtimeNs: bigint }): void {
  if (st.size !== expected.size || st.mtimeNs !== expected.mtimeNs) {
    throw changed(file, 'it changed between scanning and reading');
  }
}

function changed(file: string, why: string): BargeError {
  return new BargeError('SOURCE_CHANGED', `${file}: ${why}`, {
    hint: 'publish from a tree that nothing writes to (a snapshot or a finished build); nothing was published',
    details: { file },
  });
}

/** Maps an error reading a source file to SOURCE_CHANGED (vanished) or SOURCE_UNREADABLE. */
export function sourceError(err: unknown, file: string): BargeError {
  const code = errnoCode(err);
  if (code === 'ENOENT') return changed(file, 'it vanished during publish');
  if (code === 'EACCES' || code === 'EPERM') {
    return new BargeError('SOURCE_UNREADABLE', `cannot read ${file}: permission denied`, {
      cause: err,
      hint: 'make the file readable by the publishing user (or publish as a user who can read it); nothing was published',
      details: { file },
    });
  }
  return new BargeError('SOURCE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, {
    cause: err,
    details: { file },
  });
}
