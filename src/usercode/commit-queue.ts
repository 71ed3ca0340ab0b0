import { BargeError } from '../error/index.js';
import type { ObjectWriter, PublishResult, WorkingTree } from '../publish/index.js';
import { Ledger, Publisher } from '../publish/index.js';
import { repositoryPaths } from '../repository/index.js';

/** A change that joins the next batch: it edits the tree of the revision being built. */
export interface BatchedChange {
  apply(tree: WorkingTree, writer: ObjectWriter): Promise<void>;
}

/** Options of a CommitQueue. */
export interface CommitQueueOptions {
  dataDir: string;
  fqrn: string;
  /**
   * How long a batch waits for changes still being prepared (see expect()) before it goes without
   * them (default 100 ms); after a commit that took longer, as long as that commit took, up to
   * maxGatherMs. A batch goes at once when nothing is being prepared.
   */
  gatherMs?: number;
  /** The longest a batch waits for changes being prepared (default 1,000 ms). */
  maxGatherMs?: number;
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
 * The repository lock is taken per batch, so a CLI writer (`barge images add`) can slip in between.
 * Uploads are stored before their batch, outside the lock: their objects are staged in the gc ledger
 * under the upload service's writer session (gc spares them while the service lives), and objects
 * still on their way from the ingest workers sit in data/txn, hence `keepStaging`.
 *
 * When a batch goes: at once when no other change is being prepared (a lone upload does not
 * wait), else when those have arrived or the gather window is over. The window opens when the
 * batch's first change arrives or the last commit ended, whichever is later, and lasts as long as
 * the last commit took (at least gatherMs, at most maxGatherMs). Cutting as soon as a commit
 * ended made batches small under load, since preparing and committing share one thread: with 32
 * uploads in flight the batches averaged 2.3 uploads at 10,000 uploads present, and each
 * revision rewrites the group catalogs it touches whatever its size (bench/usercode).
 */
export class CommitQueue {
  private readonly waiting: Waiting[] = [];
  private readonly jobs: Job[] = [];
  private running = false;
  private gatherTimer: NodeJS.Timeout | undefined;
  /** When the first change of the next batch arrived (ms since the epoch). */
  private gatherStart: number | undefined;
  /** Changes announced by expect() and not yet submitted or given up. */
  private preparing = 0;
  private lastJobEnd = 0;
  private lastCommitMs = 0;
  private closing = false;
  private closed = false;
  /** The gc ledger, open for the queue's life and lent to each batch's Publisher. */
  private ledger: Ledger | undefined;
  /**
   * The tree of the last revision this queue committed, its catalogs still loaded: the next batch
   * starts from it when nobody else published meanwhile. A group directory of 1,000 uploads is
   * one catalog of 1,000 nested mountpoints that every upload into the group rewrites; reading it
   * back from the store was a tenth of a lone upload's time at 10,000 uploads (bench/usercode).
   */
  private tree: WorkingTree | undefined;
  /** Revisions this queue committed and changes in them, for metrics and tests. */
  readonly stats = { revisions: 0, changes: 0, failedBatches: 0 };

  constructor(private readonly options: CommitQueueOptions) {}

  /** Adds a change to the next batch; resolves with the revision that published it. */
  submit(change: BatchedChange): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new BargeError('IO_ERROR', 'the upload service is shutting down'));
    return new Promise<PublishResult>((resolve, reject) => {
      this.waiting.push({ change, resolve, reject });
      this.gatherStart ??= Date.now();
      this.schedule();
    });
  }

  /**
   * Announces a change being prepared (an upload streaming in): batches wait for it, within the
   * gather window. Call the returned function once it is submitted, or given up; more calls are
   * ignored.
   */
  expect(): () => void {
    this.preparing++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.preparing--;
      this.schedule();
    };
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
    this.closing = true;
    this.cut();
    while (this.running || this.jobs.length > 0 || this.waiting.length > 0) {
      if (!this.running) this.cut();
      await new Promise((r) => setTimeout(r, 10));
    }
    this.closed = true;
    this.ledger?.close();
    this.ledger = undefined;
  }

  /** Milliseconds until the waiting changes must go as a batch (≤ 0: now). */
  private dueIn(): number {
    if (this.closing || this.preparing === 0 || this.waiting.length >= (this.options.maxBatch ?? 1000))
      return 0;
    const gather = this.options.gatherMs ?? 100;
    const window = Math.min(Math.max(gather, this.lastCommitMs), this.options.maxGatherMs ?? 1000);
    return Math.max(this.gatherStart ?? Date.now(), this.lastJobEnd) + window - Date.now();
  }

  /** Cuts a batch now or arms the timer for when it is due; while a job runs, drain decides. */
  private schedule(): void {
    if (this.running || this.waiting.length === 0) return;
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    const wait = this.dueIn();
    if (wait <= 0) this.cut();
    else this.gatherTimer = setTimeout(() => this.cut(), wait);
  }

  private cut(): void {
    this.takeBatches();
    void this.drain();
  }

  /** Moves the waiting changes into batch jobs. */
  private takeBatches(): void {
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    this.gatherStart = undefined;
    const max = this.options.maxBatch ?? 1000;
    while (this.waiting.length > 0) this.jobs.push({ kind: 'batch', items: this.waiting.splice(0, max) });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        // Changes that arrived while the last job ran go next, together, once due.
        if (this.jobs.length === 0 && this.waiting.length > 0 && this.dueIn() <= 0) this.takeBatches();
        const job = this.jobs.shift();
        if (!job) break;
        const started = Date.now();
        if (job.kind === 'batch') {
          await this.commitBatch(job.items);
          this.lastCommitMs = Date.now() - started;
        } else {
          try {
            job.resolve(await this.withPublisher(job.run));
          } catch (err) {
            job.reject(err);
          }
        }
        this.lastJobEnd = Date.now();
      }
    } finally {
      this.running = false;
    }
    this.schedule();
  }

  private async commitBatch(items: Waiting[]): Promise<void> {
    try {
      const result = await this.withPublisher(async (publisher) => {
        this.options.beforeCommit?.(items.map((i) => i.change));
        const kept = this.tree;
        this.tree = undefined;
        const reuse = kept !== undefined && kept.rootHash === publisher.manifest.rootHash;
        if (reuse) kept.useLoader(publisher.loadCatalog);
        const tree = reuse ? kept : publisher.newTree();
        const committed = await publisher.applyChanges(
          async (t, writer) => {
            for (const item of items) await item.change.apply(t, writer);
          },
          { tree },
        );
        // Kept only after a commit that went through: a failed one leaves the tree half changed.
        tree.settle(publisher.loadCatalog);
        if (tree.rootHash === committed.rootHash) this.tree = tree;
        return committed;
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
        this.ledger ??= Ledger.open(repositoryPaths(this.options.dataDir, this.options.fqrn).state);
        publisher = await Publisher.open(this.options.dataDir, this.options.fqrn, 'serve (uploads)', {
          keepStaging: true,
          ledger: this.ledger,
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
