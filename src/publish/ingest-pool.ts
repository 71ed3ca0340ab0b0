import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BargeError } from '../error/index.js';
import type { ChunkSizes, HashAlgorithm, HashText } from '../object/index.js';
import { ioError } from '../storage/index.js';
import { failpointCounter } from './failpoint.js';
import type { DataTask, IngestAnswer, IngestTask, IngestWorkerData, ObjectTask } from './ingest-worker.js';
import { type IngestedContent, sourceError } from './object-writer.js';

/** Files up to this size go to the pool (read whole into memory there). */
export const POOL_FILE_LIMIT = 64 << 20;

/**
 * A pool of ingest worker threads, one per core: each reads, hashes, deflates and stores whole
 * files synchronously, so deflate (measured at ~55 MB/s per core, the costliest step) runs on
 * every core at once. Used for the filesystem store, where workers can write objects directly.
 */
export class IngestPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (a: IngestAnswer) => void; reject: (e: unknown) => void }
  >();
  private readonly load: number[] = [];
  private nextId = 0;

  constructor(
    root: string,
    algorithm: HashAlgorithm,
    chunkSizes: ChunkSizes | null,
    size = availableParallelism(),
  ) {
    const data: IngestWorkerData = { root, algorithm, chunkSizes, failpoints: failpointCounter() };
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new Worker(new URL('./ingest-worker.js', import.meta.url), { workerData: data });
      w.on('message', (a: IngestAnswer) => {
        this.load[i] = (this.load[i] ?? 1) - 1;
        const p = this.waiting.get(a.id);
        this.waiting.delete(a.id);
        p?.resolve(a);
      });
      w.on('error', (err) => {
        for (const p of this.waiting.values()) p.reject(err);
        this.waiting.clear();
      });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  /** Ingests one source file on the least busy worker. */
  async ingest(
    file: string,
    size: bigint,
    mtimeNs: bigint,
  ): Promise<IngestedContent & { objectsWritten: number; bytesWritten: number }> {
    const answer = await this.send((id) => ({ id, file, size: String(size), mtimeNs: String(mtimeNs) }));
    return this.result(answer, file);
  }

  /** Stores content already in memory (a layer entry) on the least busy worker; it is copied there. */
  async ingestData(
    data: Uint8Array,
    what: string,
  ): Promise<IngestedContent & { objectsWritten: number; bytesWritten: number }> {
    return this.result(await this.send((id) => ({ id, data })), what);
  }

  /** Compresses and stores one object (a chunk) on the least busy worker; the data is copied there. */
  async storeObject(data: Uint8Array, suffix: '' | 'P'): Promise<{ hash: HashText; bytesWritten: number }> {
    const answer = await this.send((id) => ({ id, object: data, suffix }));
    const r = this.result(answer, 'an object');
    if (r.hash === null) throw new Error('ingest worker answered an object without a hash');
    return { hash: r.hash, bytesWritten: r.bytesWritten };
  }

  private send(task: (id: number) => IngestTask | DataTask | ObjectTask): Promise<IngestAnswer> {
    const id = this.nextId++;
    let pick = 0;
    for (let i = 1; i < this.workers.length; i++) if ((this.load[i] ?? 0) < (this.load[pick] ?? 0)) pick = i;
    this.load[pick] = (this.load[pick] ?? 0) + 1;
    return new Promise<IngestAnswer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[pick]?.postMessage(task(id));
    });
  }

  /** Turns a worker's answer into content, or into the BargeError it stands for. */
  private result(
    answer: IngestAnswer,
    file: string,
  ): IngestedContent & { objectsWritten: number; bytesWritten: number } {
    if (!answer.ok) {
      if (answer.errno === 'ENOSPC' || answer.errno === 'EDQUOT')
        throw ioError(Object.assign(new Error(answer.message), { code: 'ENOSPC' }), 'store an object');
      if (answer.kind === 'changed') {
        throw new BargeError(
          'SOURCE_CHANGED',
          `${file}: ${answer.errno === 'ENOENT' ? 'it vanished during publish' : answer.message}`,
          {
            hint: 'publish from a tree that nothing writes to (a snapshot or a finished build); nothing was published',
            details: { file },
          },
        );
      }
      throw sourceError(Object.assign(new Error(answer.message), { code: answer.errno }), file);
    }
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
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
