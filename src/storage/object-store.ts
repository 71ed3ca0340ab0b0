/** One stored file: its key (path relative to the repository base URL) and size in bytes. */
export interface StoredObject {
  key: string;
  size: number;
}

/** Options of ObjectStore.put. */
export interface PutOptions {
  /**
   * Content-addressed objects: skip the write when the key exists (its bytes are the same by
   * construction). Returns false in that case.
   */
  ifAbsent?: boolean;
}

/**
 * Where a repository's served files live. Keys are paths relative to the repository's base URL
 * (`data/ab/cdef…C`, `.cvmfspublished`). Every put is atomic: a reader sees the old bytes or the
 * new ones, never a part; that is what makes "manifest last" a crash-safe commit.
 */
export interface ObjectStore {
  /** A short name for messages and metrics ("fs", "s3", "memory"). */
  readonly kind: string;
  has(key: string): Promise<boolean>;
  /** The whole object; OBJECT_NOT_FOUND if absent. */
  get(key: string): Promise<Buffer>;
  /** Size in bytes, or undefined if absent. */
  size(key: string): Promise<number | undefined>;
  /** Stores atomically; true if written, false if skipped by `ifAbsent`. */
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean>;
  /** Deletes in bulk; absent keys are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Every key under a prefix (`data/`, `data/ab/`), in no particular order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Makes every completed put durable (before a manifest is swapped in). */
  flush(): Promise<void>;
}
