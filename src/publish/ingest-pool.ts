import { renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { BargeError } from '../error/index.js';
import type { ChunkSizes, HashAlgorithm, HashText } from '../object/index.js';
import { ioError } from '../storage/index.js';
import { failpoint, failpointCounter } from './failpoint.js';
import type {
  BatchTask,
  DataTask,
  IngestAnswer,
  IngestFailure,
  IngestTask,
  IngestWorkerData,
  ObjectTask,
  StoredContent,
} from './ingest-worker.js';
import { type IngestedContent, sourceError } from './object-writer.js';
import type { Stager } from './staging-session.js';

/** Files up to this size go to the pool (read whole into memory there). */
export const POOL_FILE_LIMIT = 64 << 20;
/** Contents gathered into one message before it is sent (unless the event loop turns first). */
const BATCH_BYTES = 1 << 20;
const BATCH_CONTENTS = 256;
/** Contents from this size on are sent in their own buffer, not copied into a batch. */
const BATCH_CONTENT_MAX = 256 * 1024;

/**
 * Answers with new objects are held for one staging transaction until fewer than this many tasks
 * per worker are left at the workers (they must not run dry), or this many answers per worker are
 * held. publishDirectory keeps 16 files in flight: about 12 answers go per transaction.
 */
const PLACE_BELOW = 2;
const PLACE_HOLD_MAX = 128;

/** A batch being filled: contents back to back, and who waits for each. */
interface OpenBatch {
  buffer: Buffer;
  used: number;
  sizes: number[];
  waiting: { resolve: (c: StoredContent) => void; reject: (e: unknown) => void }[];
}

/**
 * A pool of ingest worker threads, one per core: each reads, hashes, deflates and stores content
 * synchronously, so deflate (the costliest step) runs on every core at once. Used for the
 * filesystem store, where workers can write objects directly.
 *
 * Content already in memory (layer entries, uploads) is gathered into batches of up to 1 MiB
 * that are transferred to a worker in one message; a message per file cost the main thread
 * ~0.15 ms each (structured clone of the pooled 8 KiB buffers behind small Buffers, and the
 * answer), a third of its time on the base image of bench/images. The bytes handed over and not
 * yet stored are counted, so that readers can hold back (ready()) instead of buffering a layer.
 *
 * With a Stager, workers leave new objects in `data/txn`; answers' objects are staged in the gc
 * ledger, then renamed into place here, before the answers' contents resolve. Answers are held
 * for one transaction while the workers have enough else to do (see PLACE_BELOW): staged as they
 * came, a publish of 10,000 small files made 4,600 transactions of random keys, each rewriting a
 * few ledger pages into the WAL.
 */
export class IngestPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<
    number,
    {
      resolve: (a: IngestAnswer) => void;
      reject: (e: unknown) => void;
      worker: number;
      weight: number;
      counted: number;
    }
  >();
  /** Bytes sent to each worker and not answered yet. */
  private readonly queued: number[] = [];
  private nextId = 0;
  private open: OpenBatch | undefined;
  private flushScheduled = false;
  private readonly drained: (() => void)[] = [];
  /** Bytes handed to the pool (in a batch or sent) and not stored yet. */
  inFlightBytes = 0;
  /** Answers whose objects wait in data/txn to be staged and placed. */
  private unplaced: { placed: [string, string][]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private placeScheduled = false;

  constructor(
    private readonly root: string,
    algorithm: HashAlgorithm,
    chunkSizes: ChunkSizes | null,
    private readonly staging?: Stager,
    size = availableParallelism(),
  ) {
    const data: IngestWorkerData = {
      root,
      algorithm,
      chunkSizes,
      failpoints: failpointCounter(),
      stageFirst: staging !== undefined,
    };
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new Worker(new URL('./ingest-worker.js', import.meta.url), { workerData: data });
      w.on('message', (a: IngestAnswer) => {
        const p = this.waiting.get(a.id);
        this.waiting.delete(a.id);
        if (p) this.settled(p.worker, p.weight, p.counted);
        if (a.placed && p)
          this.unplaced.push({ placed: a.placed, resolve: () => p.resolve(a), reject: p.reject });
        else p?.resolve(a);
        // Held answers go once few tasks are left, whether or not the last ones wrote objects.
        const workers = this.workers.length;
        if (this.waiting.size < PLACE_BELOW * workers || this.unplaced.length >= PLACE_HOLD_MAX * workers)
          this.placeSoon();
      });
      w.on('error', (err) => {
        for (const p of this.waiting.values()) p.reject(err);
        this.waiting.clear();
        this.placeSoon();
      });
      this.workers.push(w);
      this.queued.push(0);
    }
  }

  /** Ingests one source file on the least busy worker. */
  async ingest(
    file: string,
    size: bigint,
    mtimeNs: bigint,
  ): Promise<IngestedContent & { objectsWritten: number; bytesWritten: number }> {
    const answer = await this.send(
      (id) => ({ id, file, size: String(size), mtimeNs: String(mtimeNs) }),
      Number(size),
    );
    return this.result(answer, file);
  }

  /** Stores content already in memory (a layer entry) on the least busy worker; it is copied there. */
  async ingestData(
    data: Uint8Array,
    what: string,
  ): Promise<IngestedContent & { objectsWritten: number; bytesWritten: number }> {
    return this.result(await this.send((id) => ({ id, data }), data.length), what);
  }

  /**
   * Stores content whose SHA-256 the caller has computed, given as parts (views of a stream's
   * buffers are fine: they are copied into the next batch, or into a buffer of their own that is
   * transferred, before this returns).
   */
  storeContent(parts: readonly Uint8Array[], size: number): Promise<StoredContent> {
    this.inFlightBytes += size;
    if (size > BATCH_CONTENT_MAX) {
      const own = Buffer.allocUnsafeSlow(size);
      copyParts(parts, own, 0);
      return this.send((id) => ({ id, batch: own, sizes: [size] }), size, size, [own.buffer]).then((a) =>
        this.contentOf(a, 0),
      );
    }
    let batch = this.open;
    if (batch && (batch.used + size > batch.buffer.length || batch.sizes.length >= BATCH_CONTENTS)) {
      this.flush();
      batch = undefined;
    }
    if (!batch) {
      batch = { buffer: Buffer.allocUnsafeSlow(BATCH_BYTES), used: 0, sizes: [], waiting: [] };
      this.open = batch;
    }
    copyParts(parts, batch.buffer, batch.used);
    batch.used += size;
    batch.sizes.push(size);
    const open = batch;
    const stored = new Promise<StoredContent>((resolve, reject) => open.waiting.push({ resolve, reject }));
    // Sent when full, when a reader waits for the pool, or at the latest when the event loop turns
    // (the tar reader then waits for the decompressor): never left lying while workers idle.
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return stored;
  }

  /** Compresses and stores one object (a chunk) on the least busy worker. */
  async storeObject(
    data: Uint8Array,
    suffix: '' | 'P',
    options: { transfer?: boolean } = {},
  ): Promise<{ hash: HashText; bytesWritten: number }> {
    // A Buffer that owns its whole memory (not a view into Node's shared pool) can be handed
    // over instead of copied; the caller promises not to touch it again.
    const own = options.transfer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    this.inFlightBytes += data.length;
    const answer = await this.send(
      (id) => ({ id, object: data, suffix }),
      data.length,
      data.length,
      own ? [data.buffer as ArrayBuffer] : [],
    );
    const r = this.result(answer, 'an object');
    if (r.hash === null) throw new Error('ingest worker answered an object without a hash');
    return { hash: r.hash, bytesWritten: r.bytesWritten };
  }

  /**
   * Resolves once fewer than `limit` bytes are in flight: a reader that awaits this before taking
   * more content keeps memory bounded and the workers fed. Sends the open batch first.
   */
  ready(limit: number): Promise<void> | undefined {
    if (this.inFlightBytes < limit) return undefined;
    this.flush();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (this.inFlightBytes < limit) resolve();
        else this.drained.push(check);
      };
      this.drained.push(check);
    });
  }

  /** Sends the open batch, if any. */
  flush(): void {
    const batch = this.open;
    if (!batch) return;
    this.open = undefined;
    const view = batch.buffer.subarray(0, batch.used);
    this.send((id) => ({ id, batch: view, sizes: batch.sizes }), batch.used, batch.used, [
      batch.buffer.buffer as ArrayBuffer,
    ]).then(
      (a) => {
        batch.waiting.forEach((w, i) => {
          try {
            w.resolve(this.contentOf(a, i));
          } catch (err) {
            w.reject(err);
          }
        });
      },
      (err) => {
        for (const w of batch.waiting) w.reject(err);
      },
    );
  }

  /** Sends a task to the worker with the fewest bytes queued; `counted` bytes leave inFlightBytes when it is answered. */
  private send(
    task: (id: number) => IngestTask | DataTask | BatchTask | ObjectTask,
    bytes: number,
    counted = 0,
    transfer: ArrayBuffer[] = [],
  ): Promise<IngestAnswer> {
    const id = this.nextId++;
    let pick = 0;
    for (let i = 1; i < this.workers.length; i++)
      if ((this.queued[i] ?? 0) < (this.queued[pick] ?? 0)) pick = i;
    // Weigh each task at least a little, so that small ones alternate between idle workers.
    const weight = bytes + 4096;
    this.queued[pick] = (this.queued[pick] ?? 0) + weight;
    return new Promise<IngestAnswer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: pick, weight, counted });
      this.workers[pick]?.postMessage(task(id), transfer);
    });
  }

  /** Places the held answers' objects once this turn's answers are in. */
  private placeSoon(): void {
    if (this.placeScheduled || this.unplaced.length === 0) return;
    this.placeScheduled = true;
    setImmediate(() => {
      this.placeScheduled = false;
      const held = this.unplaced;
      this.unplaced = [];
      this.place(held.flatMap((h) => h.placed)).then(
        () => {
          for (const h of held) h.resolve();
        },
        (err) => {
          for (const h of held) h.reject(err);
        },
      );
    });
  }

  /** Stages objects a worker left in data/txn, then renames them into place. */
  private async place(placed: [string, string][]): Promise<void> {
    await this.staging?.stage(placed.map(([, key]) => key));
    for (const [tmp, key] of placed) {
      try {
        renameSync(tmp, path.join(this.root, key));
      } catch (err) {
        throw ioError(err, `write ${key}`);
      }
      failpoint('object');
    }
  }

  private settled(worker: number, weight: number, counted: number): void {
    this.queued[worker] = (this.queued[worker] ?? 0) - weight;
    this.inFlightBytes -= counted;
    const waiters = this.drained.splice(0);
    for (const w of waiters) w();
  }

  /** The i-th content of a batch answer, or the BargeError its failure stands for. */
  private contentOf(answer: IngestAnswer, i: number): StoredContent {
    if (!answer.ok) this.result(answer, 'content');
    const item = 'batch' in answer ? answer.batch[i] : undefined;
    if (!item) throw new Error('ingest worker answered a batch without this content');
    if (!item.ok) return this.result({ id: answer.id, ...item }, 'content');
    return item;
  }

  /** Turns a worker's answer into content, or into the BargeError it stands for. */
  private result(
    answer: IngestAnswer,
    file: string,
  ): IngestedContent & { objectsWritten: number; bytesWritten: number } {
    if (!answer.ok) throw failureError(answer, file);
    if ('batch' in answer) throw new Error('ingest worker answered a batch for a single task');
    return {
      hash: answer.hash,
      chunks: answer.chunks,
      size: answer.size,
      sha256: Buffer.from(answer.sha256),
      objectsWritten: answer.objectsWritten,
      bytesWritten: answer.bytesWritten,
    };
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.flush();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function copyParts(parts: readonly Uint8Array[], into: Buffer, at: number): void {
  let pos = at;
  for (const p of parts) {
    into.set(p, pos);
    pos += p.length;
  }
}

function failureError(f: IngestFailure, file: string): BargeError {
  if (f.errno === 'ENOSPC' || f.errno === 'EDQUOT')
    return ioError(Object.assign(new Error(f.message), { code: 'ENOSPC' }), 'store an object');
  if (f.kind === 'changed') {
    return new BargeError(
      'SOURCE_CHANGED',
      `${file}: ${f.errno === 'ENOENT' ? 'it vanished during publish' : f.message}`,
      {
        hint: 'publish from a tree that nothing writes to (a snapshot or a finished build); nothing was published',
        details: { file },
      },
    );
  }
  return sourceError(Object.assign(new Error(f.message), { code: f.errno }), file);
}
