import { parseObjectPath } from '../object/index.js';
import type { ObjectStore, PutOptions, StoredObject } from '../storage/index.js';
import type { Ledger } from './ledger.js';

/** Keys staged in one transaction at most; more go at once rather than wait for the next turn. */
const BATCH_KEYS = 1000;

/** What a writer needs to stage keys: resolves once their rows are committed. */
export interface Stager {
  stage(keys: readonly string[]): Promise<void>;
}

/**
 * A writer session in the gc ledger: every object a writer stores is staged under it before it
 * is written, so that a writer killed before its revision is recorded leaves rows naming what it
 * wrote, and gc collects those once the session's process is gone (Publisher.open ends dead
 * sessions). Keys are gathered for one turn of the event loop and staged in one SQLite
 * transaction: a publish stores 10,000s of objects, and a transaction each cost measurable time.
 */
export class StagingSession implements Stager {
  private pending: string[] = [];
  private batch: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;

  /** Begins the session (`ledger.beginSession()`); end() ends it. */
  constructor(private readonly ledger: Ledger) {
    ledger.beginSession();
  }

  /** Stages keys with the next batch; resolves once it is committed. */
  stage(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    this.pending.push(...keys);
    if (!this.batch) {
      let resolve = () => {};
      let reject: (e: unknown) => void = () => {};
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.batch = { promise, resolve, reject };
      setImmediate(() => this.flush());
    }
    const { promise } = this.batch;
    if (this.pending.length >= BATCH_KEYS) this.flush();
    return promise;
  }

  /** Ends the session: what it staged and no commit took becomes an orphan for gc. */
  end(): void {
    this.flush();
    this.ledger.endSession();
  }

  /**
   * `store` with every put of an object (`data/…`) staged first: what a writer (ObjectWriter,
   * commitCatalogs) stores through it is known to the ledger before it exists.
   */
  wrap(store: ObjectStore): ObjectStore {
    return new StagedStore(store, this);
  }

  private flush(): void {
    const batch = this.batch;
    if (!batch) return;
    const keys = this.pending;
    this.pending = [];
    this.batch = undefined;
    try {
      this.ledger.stage(keys);
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    }
  }
}

/** An ObjectStore that stages objects before putting them; everything else passes through. */
class StagedStore implements ObjectStore {
  readonly kind: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly staging: Stager,
  ) {
    this.kind = inner.kind;
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (parseObjectPath(key)) await this.staging.stage([key]);
    return this.inner.put(key, data, options);
  }

  has(key: string): Promise<boolean> {
    return this.inner.has(key);
  }

  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }

  size(key: string): Promise<number | undefined> {
    return this.inner.size(key);
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.inner.delete(keys);
  }

  list(prefix: string): AsyncIterable<StoredObject> {
    return this.inner.list(prefix);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }
}
