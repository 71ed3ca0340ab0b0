/**
 * A worker thread of the ingest pool: takes source files and turns each into stored objects with
 * synchronous calls only (read, SHA-256, deflate, hash, write, rename). Two of these keep both
 * cores on deflate, the costliest step, without the main thread's per-chunk overhead.
 *
 * With `stageFirst`, a new object is only written to `data/txn`: the answer lists it, and the
 * pool stages its key in the gc ledger before it renames it into place (a kill in between leaves
 * a staging file, never an object the ledger does not know).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import {
  type ChunkSizes,
  compressSync,
  type HashAlgorithm,
  hashBytes,
  objectPath,
  Xor32Chunker,
} from '../object/index.js';
import { failpoint, useFailpointCounter } from './failpoint.js';

/** What the pool tells each worker at start. */
export interface IngestWorkerData {
  root: string;
  algorithm: HashAlgorithm;
  chunkSizes: ChunkSizes | null;
  failpoints: SharedArrayBuffer;
  /** Leave new objects in data/txn for the pool to stage and rename (see above). */
  stageFirst: boolean;
}

/** One file to ingest. */
export interface IngestTask {
  id: number;
  file: string;
  size: string;
  mtimeNs: string;
}

/** Content already in memory, to store. */
export interface DataTask {
  id: number;
  data: Uint8Array;
}

/**
 * Many contents already in memory (the files of a layer, an upload), back to back in one buffer
 * that is transferred, not copied: one message per batch instead of one per file. Their SHA-256
 * is known to the sender, so it is not computed again.
 */
export interface BatchTask {
  id: number;
  batch: Uint8Array;
  /** Byte lengths of the contents, in the order they lie in `batch`. */
  sizes: number[];
}

/** One object (a chunk cut on the main thread) to compress and store as it is. */
export interface ObjectTask {
  id: number;
  object: Uint8Array;
  suffix: '' | 'P';
}

/** What storing one content produced. */
export interface StoredContent {
  hash: string | null;
  chunks: { offset: number; size: number; hash: string }[];
  size: number;
  objectsWritten: number;
  bytesWritten: number;
}

/** A failure, as the pool turns it into a BargeError. */
export interface IngestFailure {
  ok: false;
  errno?: string;
  kind: 'changed' | 'unreadable';
  message: string;
}

/** The answer for one task. */
export type IngestAnswer = (
  | ({ id: number; ok: true; sha256: Uint8Array } & StoredContent)
  | { id: number; ok: true; batch: (({ ok: true } & StoredContent) | IngestFailure)[] }
  | ({ id: number } & IngestFailure)
) & {
  /** With stageFirst: objects written to data/txn, as [staging file, key], for the pool to place. */
  placed?: [string, string][];
};

const { root, algorithm, chunkSizes, failpoints, stageFirst } = workerData as IngestWorkerData;
useFailpointCounter(failpoints);
const txn = path.join(root, 'data', 'txn');
let counter = 0;
const prefix = `${process.pid}-w${Math.random().toString(36).slice(2, 8)}-`;
/** Objects of the current task left in data/txn (stageFirst), by key. */
let unplaced = new Map<string, string>();

function store(data: Buffer, suffix: '' | 'P'): { hash: string; written: number } {
  const z = compressSync(data);
  const hash = hashBytes(z, algorithm);
  const key = objectPath(hash, suffix);
  const target = path.join(root, key);
  if (unplaced.has(key) || existsSync(target)) return { hash, written: 0 };
  const tmp = path.join(txn, `${prefix}${counter++}.tmp`);
  writeFileSync(tmp, z, { flag: 'wx' });
  if (stageFirst) {
    unplaced.set(key, tmp);
    return { hash, written: z.length };
  }
  renameSync(tmp, target);
  failpoint('object');
  return { hash, written: z.length };
}

function ingest(task: IngestTask): IngestAnswer {
  let fd: number;
  try {
    fd = openSync(task.file, 'r');
  } catch (err) {
    const errno = (err as { code?: string }).code;
    return {
      id: task.id,
      ok: false,
      ...(errno ? { errno } : {}),
      kind: errno === 'ENOENT' ? 'changed' : 'unreadable',
      message: (err as Error).message,
    };
  }
  try {
    const before = fstatSync(fd, { bigint: true });
    if (before.size !== BigInt(task.size) || before.mtimeNs !== BigInt(task.mtimeNs)) {
      return { id: task.id, ok: false, kind: 'changed', message: 'it changed between scanning and reading' };
    }
    const size = Number(before.size);
    const data = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, data, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    const after = fstatSync(fd, { bigint: true });
    if (
      got !== size ||
      after.size !== before.size ||
      after.mtimeNs !== before.mtimeNs ||
      after.ctimeNs !== before.ctimeNs
    ) {
      return { id: task.id, ok: false, kind: 'changed', message: 'it was modified while being read' };
    }
    return storeContent(task.id, data);
  } catch (err) {
    const errno = (err as { code?: string }).code;
    return {
      id: task.id,
      ok: false,
      ...(errno ? { errno } : {}),
      kind: 'unreadable',
      message: (err as Error).message,
    };
  } finally {
    closeSync(fd);
  }
}

/** Hashes, chunks, compresses and stores content already in memory (a file, or a layer entry). */
function storeContent(id: number, data: Buffer): IngestAnswer {
  const sha256 = createHash('sha256').update(data).digest();
  return { id, ok: true, sha256, ...storeBytes(data) };
}

/** Chunks, compresses and stores content whose SHA-256 the caller has. */
function storeBytes(data: Buffer): StoredContent {
  const size = data.length;
  let objectsWritten = 0;
  let bytesWritten = 0;
  const put = (part: Buffer, suffix: '' | 'P') => {
    const r = store(part, suffix);
    if (r.written > 0) {
      objectsWritten++;
      bytesWritten += r.written;
    }
    return r.hash;
  };
  if (chunkSizes && size > chunkSizes.min) {
    const cuts = new Xor32Chunker(chunkSizes).feed(data);
    if (cuts.length > 0) {
      const bounds = [0, ...cuts, size];
      const chunks = bounds.slice(0, -1).map((start, i) => {
        const end = bounds[i + 1] as number;
        return { offset: start, size: end - start, hash: put(data.subarray(start, end), 'P') };
      });
      return { hash: null, chunks, size, objectsWritten, bytesWritten };
    }
  }
  return { hash: put(data, ''), chunks: [], size, objectsWritten, bytesWritten };
}

function failure(err: unknown): IngestFailure {
  const errno = (err as { code?: string }).code;
  return { ok: false, ...(errno ? { errno } : {}), kind: 'unreadable', message: (err as Error).message };
}

/** Stores each content of a batch; one failing (a full disk) does not hide the others' results. */
function storeBatch(task: BatchTask): IngestAnswer {
  const { batch } = task;
  let offset = batch.byteOffset;
  const results = task.sizes.map((size) => {
    const data = Buffer.from(batch.buffer, offset, size);
    offset += size;
    try {
      return { ok: true as const, ...storeBytes(data) };
    } catch (err) {
      return failure(err);
    }
  });
  return { id: task.id, ok: true, batch: results };
}

function handle(task: IngestTask | DataTask | BatchTask | ObjectTask): IngestAnswer {
  if ('file' in task) return ingest(task);
  try {
    if ('batch' in task) return storeBatch(task);
    if ('data' in task)
      return storeContent(task.id, Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength));
    const data = Buffer.from(task.object.buffer, task.object.byteOffset, task.object.byteLength);
    const { hash, written } = store(data, task.suffix);
    return {
      id: task.id,
      ok: true,
      hash,
      chunks: [],
      size: data.length,
      sha256: new Uint8Array(0),
      objectsWritten: written > 0 ? 1 : 0,
      bytesWritten: written,
    };
  } catch (err) {
    return { id: task.id, ...failure(err) };
  }
}

parentPort?.on('message', (task: IngestTask | DataTask | BatchTask | ObjectTask) => {
  const answer: IngestAnswer = handle(task);
  if (unplaced.size > 0) {
    answer.placed = [...unplaced].map(([key, tmp]) => [tmp, key]);
    unplaced = new Map();
  }
  parentPort?.postMessage(answer);
});
