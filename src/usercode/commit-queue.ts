import { BargeError } from '../error/index.js';
import type { ObjectWriter, PublishResult, WorkingTree } from '../publish/index.js';
import { Publisher } from '../publish/index.js';

/** A change that joins the next batch: it edits the tree of the revision being built. */
export interface BatchedChange {
  apply(tree: WorkingTree, writer: ObjectWriter): Promise<void>;
}

/** Options of a CommitQueue. */
export interface CommitQueueOptions {
  dataDir: string;
  fqrn: string;
  /** How long the first change of a batch waits for company (default 100 ms). */
  gatherMs?: number;
  /** Most changes in one revision (default 1,000). */
  maxBatch?: number;
  /** Runs after a batch is committed and before its callers are answered (ledger updates). */
  afterCommit?: (result: PublishResult, changes: readonly BatchedChange[]) => void;
  /** Runs before a batch is committed (pending ledger rows). */
  beforeCommit?: (changes: readonly BatchedChange[]) => void;
  /** How long to keep retrying while another writer (a CLI publish) holds the lock (default 60 s). */
  lockWaitMs?: number;
}

interface Waiting {
  change: BatchedChange;
  resolve: (r: PublishResult) => void;
  reject: (e: unknown) => void;
}

type Job =
  | { kind: 'batch'; items: Waiting[] }
  | {
      kind: 'exclusive';
      run: (p: Publisher) => Promise<unknown>;
      resolve: (v: unknown) => void;
      reject: (e: unknown) => void;
    };

/**
 * One writer per repository inside the server: uploads staged in parallel join a queue, and the
 * queue commits them in batches, one revision for many uploads (what the CVMFS gateway's leases
 * allow, without a gateway). A caller's promise resolves only once the revision that holds its
 * change is signed and flushed, so an acknowledged upload is durable. A batch that fails to commit
 * fails all its callers and publishes nothing; the previous revision stays served.
 *
 * The repository lock is taken per batch, so a CLI writer (`barge images add`) can slip in between;
 * staged objects live in data/txn meanwhile, hence `keepStaging`.
 */
export class CommitQueue {
  private readonly waiting: Waiting[] = [];
  private readonly jobs: Job[] = [];
  private running = false;
  private gatherTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Revisions this queue committed and changes in them, for metrics and tests. */
  readonly stats = { revisions: 0, changes: 0, failedBatches: 0 };

  constructor(private readonly options: CommitQueueOptions) {}

  /** Adds a change to the next batch; resolves with the revision that published it. */
  submit(change: BatchedChange): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new BargeError('IO_ERROR', 'the upload service is shutting down'));
    return new Promise<PublishResult>((resolve, reject) => {
      this.waiting.push({ change, resolve, reject });
      if (this.waiting.length >= (this.options.maxBatch ?? 1000)) this.cut();
      else this.gatherTimer ??= setTimeout(() => this.cut(), this.options.gatherMs ?? 100);
    });
  }

  /** Runs `run` alone with the repository open (an image ingest, an expiry), between batches. */
  exclusive<T>(run: (p: Publisher) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new BargeError('IO_ERROR', 'the upload service is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ kind: 'exclusive', run, resolve: resolve as (v: unknown) => void, reject });
      void this.drain();
    });
  }

  /** Waits for everything queued, then refuses new work. */
  async close(): Promise<void> {
    this.cut();
    while (this.running || this.jobs.length > 0) await new Promise((r) => setTimeout(r, 10));
    this.closed = true;
  }

  private cut(): void {
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.waiting.length === 0) return;
    const max = this.options.maxBatch ?? 1000;
    while (this.waiting.length > 0) this.jobs.push({ kind: 'batch', items: this.waiting.splice(0, max) });
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
        if (job.kind === 'batch') await this.commitBatch(job.items);
        else {
          try {
            job.resolve(await this.withPublisher(job.run));
          } catch (err) {
            job.reject(err);
          }
        }
        // Changes that arrived while this job ran have waited long enough: they go next, together.
        if (this.jobs.length === 0 && this.waiting.length > 0) this.cut();
      }
    } finally {
      this.running = false;
    }
  }

  private async commitBatch(items: Waiting[]): Promise<void> {
    try {
      const result = await this.withPublisher(async (publisher) => {
        this.options.beforeCommit?.(items.map((i) => i.change));
        return publisher.applyChanges(async (tree, writer) => {
          for (const item of items) await item.change.apply(tree, writer);
        });
      });
      this.stats.revisions += result.published ? 1 : 0;
      this.stats.changes += items.length;
      this.options.afterCommit?.(
        result,
        items.map((i) => i.change),
      );
      for (const item of items) item.resolve(result);
    } catch (err) {
      this.stats.failedBatches++;
      for (const item of items) item.reject(err);
    }
  }

  /** Opens the repository (waiting out other writers up to lockWaitMs), runs, closes. */
  private async withPublisher<T>(run: (p: Publisher) => Promise<T>): Promise<T> {
    const deadline = Date.now() + (this.options.lockWaitMs ?? 60_000);
    let publisher: Publisher;
    for (let delay = 20; ; delay = Math.min(delay * 2, 1000)) {
      try {
        publisher = await Publisher.open(this.options.dataDir, this.options.fqrn, 'serve (uploads)', {
          keepStaging: true,
        });
        break;
      } catch (err) {
        if (!(err instanceof BargeError && err.code === 'REPO_LOCKED') || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    try {
      return await run(publisher);
    } finally {
      await publisher.close();
    }
  }
}
