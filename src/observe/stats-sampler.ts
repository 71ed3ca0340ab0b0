import { performance } from 'node:perf_hooks';
import { RepositoryReader, repositoryInfo, repositoryPaths, storeSource } from '../repository/index.js';
import type { JsonLog } from './json-log.js';
import { readFacts, readLedger } from './repository-facts.js';
import { openServedStore } from './repository-store.js';
import { StatsDb, type StatsSample } from './stats-db.js';

/** However slow sampling is, a changed repository is sampled again within 5 minutes. */
const MAX_GAP_MS = 300_000;
/**
 * For a repository whose full sample (every catalog of the revision walked for its distinct
 * objects, every stored object listed) takes more than FULL_SLOW_S, a full sample is taken at
 * most every MIN_FULL_GAP_MS and at most 1 % of the time: at 20,000 user tarballs it took 45 s,
 * on the server's one event loop, while uploads changed the revision every second. In between,
 * a light sample reads the root catalog's counters (files, logical bytes) and carries the full
 * sample's object and storage numbers forward; a gc run always gets a full one (it changes what
 * is stored). Smaller repositories get a full sample on every change.
 */
const FULL_SLOW_S = 1;
const MIN_FULL_GAP_MS = 600_000;
const FULL_COST_FACTOR = 100;

/** Options of a StatsSampler. */
export interface StatsSamplerOptions {
  dataDir: string;
  log: JsonLog;
  /**
   * Sampling may use at most 1/costFactor of the wall time (default 20, i.e. 5 %): a sample walks
   * every catalog of the revision and stats every object, seconds for a large repository.
   */
  costFactor?: number;
  /**
   * Keep samples in memory only and read the history another process wrote, if any (a read-only
   * `barge serve`, one of several in front of a replica or S3, writes nothing into the data dir).
   */
  readOnly?: boolean;
  /** Full samples slower than this make the next ones light (default FULL_SLOW_S; tests: 0). */
  fullSlowSeconds?: number;
}

/**
 * Keeps each repository's storage history: when its revision or gc state differs from the newest
 * sample, walks the revision (as `barge info` does: objects, logical bytes) and `data/` (objects
 * and bytes on disk) and appends a sample to `<state>/stats.db`. Driven by a timer and by the
 * readers of the numbers (/metrics, the dashboard), since publishes happen in other processes;
 * a hook in the publisher would make it immediate.
 */
export class StatsSampler {
  private readonly dbs = new Map<string, StatsDb | null>();
  /** Newest sample per repository, also for repositories whose state directory is not writable. */
  private readonly newest = new Map<string, StatsSample>();
  private readonly running = new Map<string, Promise<StatsSample | undefined>>();
  private readonly lastRun = new Map<string, { finished: number; seconds: number }>();
  /** The newest full sample per repository and when it finished (performance.now()). */
  private readonly lastFull = new Map<string, { sample: StatsSample; finished: number; gcRuns: number }>();
  private readonly wakeups = new Set<() => void>();
  private closing = false;

  constructor(private readonly options: StatsSamplerOptions) {}

  /**
   * The newest sample of `fqrn`, taking a new one first if the repository changed since (deferred
   * while the last one finished too recently for its cost). Waits at most `waitMs` for a new
   * sample; past that, answers with the previous one and lets the new one finish in the background.
   */
  async refresh(fqrn: string, waitMs = 2000): Promise<StatsSample | undefined> {
    const latest = this.latest(fqrn);
    const key = await this.stateKey(fqrn);
    if (latest?.key === key || this.closing) return latest;
    let work = this.running.get(fqrn);
    if (!work) {
      // Too soon after the last sample for its cost: this one is taken when the time comes.
      const last = this.lastRun.get(fqrn);
      const factor = this.options.costFactor ?? 20;
      const gap = last ? Math.min(last.seconds * 1000 * factor, MAX_GAP_MS) : 0;
      const wait = last ? Math.max(0, last.finished + gap - performance.now()) : 0;
      work = this.pause(wait)
        .then(() => this.sample(fqrn))
        .finally(() => this.running.delete(fqrn));
      this.running.set(fqrn, work);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<StatsSample | undefined>((resolve) => {
      timer = setTimeout(() => resolve(latest), waitMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The newest sample recorded, without sampling. */
  latest(fqrn: string): StatsSample | undefined {
    const cached = this.newest.get(fqrn);
    if (cached) return cached;
    const fromDb = this.db(fqrn)?.latest();
    if (fromDb) this.newest.set(fqrn, fromDb);
    return fromDb;
  }

  /** The newest `limit` samples, oldest first. */
  history(fqrn: string, limit = 1000): StatsSample[] {
    const db = this.db(fqrn);
    if (db) return db.samples(limit);
    const one = this.newest.get(fqrn);
    return one ? [one] : [];
  }

  /** The stats database of `fqrn`, or undefined when its state directory cannot hold one. */
  db(fqrn: string): StatsDb | undefined {
    let db = this.dbs.get(fqrn);
    if (db === undefined) {
      try {
        db = new StatsDb(repositoryPaths(this.options.dataDir, fqrn).state, {
          readOnly: this.options.readOnly === true,
        });
      } catch (err) {
        // A read-only server before any writer sampled: no history yet, nothing wrong.
        if (!this.options.readOnly)
          this.options.log.warn('stats.unavailable', { repository: fqrn, error: err });
        db = null;
      }
      this.dbs.set(fqrn, db);
    }
    return db ?? undefined;
  }

  /** Drops samples not started yet, waits for those in progress, then closes the databases. */
  async close(): Promise<void> {
    this.closing = true;
    for (const wake of this.wakeups) wake();
    await Promise.allSettled([...this.running.values()]);
    for (const db of this.dbs.values()) db?.close();
    this.dbs.clear();
  }

  /** What a sample describes: the revision, and the gc runs (a sweep changes the bytes, not the revision). */
  private async stateKey(fqrn: string): Promise<string> {
    const { manifest } = await readFacts(this.options.dataDir, fqrn);
    return `${manifest.revision}:${manifest.rootHash}:${readLedger(this.options.dataDir, fqrn)?.gcRuns.length ?? 0}`;
  }

  /** A delay that close() cuts short. */
  private pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeups.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeups.add(done);
    });
  }

  private async sample(fqrn: string): Promise<StatsSample | undefined> {
    if (this.closing) return this.newest.get(fqrn);
    const started = performance.now();
    const { store, close } = await openServedStore(this.options.dataDir, fqrn).catch((err) => {
      this.options.log.warn('stats.sample_failed', { repository: fqrn, error: err });
      return { store: undefined, close: () => {} };
    });
    if (!store) return this.latest(fqrn);
    try {
      // The ledger first: a gc finishing meanwhile makes the next refresh sample again.
      const gcRuns = readLedger(this.options.dataDir, fqrn)?.gcRuns.length ?? 0;
      const reader = await RepositoryReader.open(storeSource(store, fqrn), { verify: false, fqrn });
      let sample: StatsSample;
      const full = this.lastFull.get(fqrn);
      const light =
        full !== undefined &&
        full.sample.seconds > (this.options.fullSlowSeconds ?? FULL_SLOW_S) &&
        full.gcRuns === gcRuns &&
        performance.now() - full.finished <
          Math.max(MIN_FULL_GAP_MS, full.sample.seconds * 1000 * FULL_COST_FACTOR);
      try {
        if (light) {
          const root = await reader.root();
          const { self, subtree } = root.statistics();
          const m = reader.manifest;
          sample = {
            ...full.sample,
            at: Math.floor(Date.now() / 1000),
            revision: m.revision,
            rootHash: m.rootHash,
            files: self.regular + subtree.regular,
            logicalBytes: self.file_size + subtree.file_size,
            key: `${m.revision}:${m.rootHash}:${gcRuns}`,
            seconds: (performance.now() - started) / 1000,
          };
        } else {
          const info = await repositoryInfo(reader);
          let storedObjects = 0;
          let storedBytes = 0;
          for await (const o of store.list('data')) {
            storedObjects++;
            storedBytes += o.size;
          }
          sample = {
            at: Math.floor(Date.now() / 1000),
            revision: info.revision,
            rootHash: info.rootHash,
            objects: info.objects,
            logicalBytes: info.logicalBytes,
            files: info.counters.regular,
            storedObjects,
            storedBytes,
            key: `${info.revision}:${info.rootHash}:${gcRuns}`,
            seconds: (performance.now() - started) / 1000,
          };
          this.lastFull.set(fqrn, { sample, finished: performance.now(), gcRuns });
        }
      } finally {
        await reader.close();
      }
      if (!this.options.readOnly) this.db(fqrn)?.append(sample);
      this.newest.set(fqrn, sample);
      this.options.log.info('stats.sample', {
        repository: fqrn,
        revision: sample.revision,
        objects: sample.objects,
        logicalBytes: sample.logicalBytes,
        storedBytes: sample.storedBytes,
        seconds: Number(sample.seconds.toFixed(3)),
      });
      return sample;
    } catch (err) {
      this.options.log.warn('stats.sample_failed', { repository: fqrn, error: err });
      return this.latest(fqrn);
    } finally {
      close();
      this.lastRun.set(fqrn, { finished: performance.now(), seconds: (performance.now() - started) / 1000 });
    }
  }
}
