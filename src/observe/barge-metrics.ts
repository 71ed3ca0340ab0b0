import { existsSync } from 'node:fs';
import path from 'node:path';
import { repositoryPaths } from '../repository/index.js';
import type { RequestLogEntry } from '../server/index.js';
import { UploadsDb } from '../usercode/uploads-db.js';
import type { JsonLog } from './json-log.js';
import { type Counter, type Histogram, MetricsRegistry } from './metrics-registry.js';
import { readFacts, readLedger, repositoryNames } from './repository-facts.js';
import { routeLabel, uploadApiOf } from './route-label.js';
import type { StatsSampler } from './stats-sampler.js';

/** Upload latencies: a small tarball commits in a batch within a second, a big one takes minutes. */
const UPLOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * barge's metrics: requests by route (counts and latency histograms) and upload latency, counted
 * as requests are answered; and per repository what is on disk (revision, whitelist expiry,
 * publishes and gc runs from the ledger, objects and bytes stored and the dedup ratio from the
 * newest storage sample, uploads), read at each scrape so that work done by other processes
 * (`barge publish`, `barge gc`) shows without them reporting to the server.
 */
export class BargeMetrics {
  readonly registry = new MetricsRegistry();
  private readonly requests: Counter;
  private readonly latency: Histogram;
  private readonly uploads: Histogram;

  constructor(
    private readonly dataDir: string,
    private readonly sampler: StatsSampler,
    private readonly log: JsonLog,
  ) {
    const r = this.registry;
    this.requests = r.counter(
      'barge_http_requests_total',
      'HTTP requests answered, by route, method and status.',
      ['route', 'method', 'code'],
    );
    this.latency = r.histogram(
      'barge_http_request_duration_seconds',
      'Time from the arrival of a request to the end of its answer, by route and method.',
      ['route', 'method'],
    );
    this.uploads = r.histogram(
      'barge_upload_duration_seconds',
      'Time to take a user tarball and answer (staging, and the signed revision that holds it), by API and status.',
      ['api', 'code'],
      UPLOAD_BUCKETS,
    );
    this.repositoryFamilies();
  }

  /** Counts one answered request (the server's onRequest hook). */
  observeRequest(entry: RequestLogEntry): void {
    const route = routeLabel(entry.path);
    const method = /^[A-Z]{1,10}$/.test(entry.method) ? entry.method : 'OTHER';
    const seconds = entry.durationMs / 1000;
    this.requests.inc({ route, method, code: String(entry.status) });
    this.latency.observe({ route, method }, seconds);
    const api = uploadApiOf(entry.method, entry.path);
    if (api) this.uploads.observe({ api, code: String(entry.status) }, seconds);
  }

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.render();
  }

  private repositoryFamilies(): void {
    const r = this.registry;
    const repo = ['repository'];
    const g = {
      readable: r.gauge(
        'barge_repository_readable',
        '1 if the manifest of the repository could be read.',
        repo,
      ),
      revision: r.gauge('barge_repository_revision', 'Revision number of the served manifest.', repo),
      published: r.gauge(
        'barge_manifest_timestamp_seconds',
        'Publish time of the served manifest (Unix seconds).',
        repo,
      ),
      whitelist: r.gauge(
        'barge_whitelist_expiry_seconds',
        'Seconds until the whitelist expires (negative once it has: clients refuse the repository).',
        repo,
      ),
      publishes: r.counter(
        'barge_publishes_total',
        'Revisions published through barge, from the gc ledger (every writer, not only this server).',
        repo,
      ),
      objects: r.gauge(
        'barge_revision_objects',
        'Distinct objects the current revision references (as barge info counts them).',
        repo,
      ),
      logical: r.gauge('barge_logical_bytes', 'Bytes of the files of the current revision.', repo),
      storedObjects: r.gauge(
        'barge_objects_stored',
        'Objects stored under data/ (every kept revision, and garbage not yet collected).',
        repo,
      ),
      storedBytes: r.gauge('barge_stored_bytes', 'Bytes of the objects stored under data/.', repo),
      dedup: r.gauge(
        'barge_dedup_ratio',
        'Logical bytes of the current revision per byte stored (compression and deduplication).',
        repo,
      ),
      sampled: r.gauge(
        'barge_stats_sample_timestamp_seconds',
        'When the storage numbers (objects, bytes, dedup) were last measured (Unix seconds).',
        repo,
      ),
      gcRuns: r.counter('barge_gc_runs_total', 'gc runs that deleted (dry runs are not counted).', repo),
      gcFreed: r.counter('barge_gc_freed_bytes_total', 'Bytes gc deleted.', repo),
      gcObjects: r.counter('barge_gc_deleted_objects_total', 'Objects gc deleted.', repo),
      gcLast: r.gauge(
        'barge_gc_last_run_timestamp_seconds',
        'Start of the newest gc run (Unix seconds).',
        repo,
      ),
      uploads: r.gauge('barge_uploads', 'User code uploads held, by state (published, pending, pinned).', [
        ...repo,
        'state',
      ]),
    };
    r.onCollect(async () => {
      for (const family of Object.values(g)) family.reset();
      const names = await repositoryNames(this.dataDir);
      await Promise.all(
        names.map(async (fqrn) => {
          const repository = fqrn;
          try {
            const facts = await readFacts(this.dataDir, fqrn);
            g.readable.set({ repository }, 1);
            g.revision.set({ repository }, facts.manifest.revision);
            g.published.set({ repository }, facts.manifest.timestamp);
            if (facts.whitelist) {
              g.whitelist.set({ repository }, (facts.whitelist.expires.getTime() - Date.now()) / 1000);
            }
            const ledger = readLedger(this.dataDir, fqrn);
            if (ledger) {
              g.publishes.setTotal({ repository }, ledger.publishes);
              g.gcRuns.setTotal({ repository }, ledger.gcRuns.length);
              g.gcFreed.setTotal({ repository }, sum(ledger.gcRuns.map((x) => x.bytesFreed)));
              g.gcObjects.setTotal({ repository }, sum(ledger.gcRuns.map((x) => x.objectsDeleted)));
              const newest = ledger.gcRuns[0];
              if (newest) g.gcLast.set({ repository }, newest.startedAt);
            }
            const s = await this.sampler.refresh(fqrn);
            if (s) {
              g.objects.set({ repository }, s.objects);
              g.logical.set({ repository }, s.logicalBytes);
              g.storedObjects.set({ repository }, s.storedObjects);
              g.storedBytes.set({ repository }, s.storedBytes);
              g.dedup.set({ repository }, s.storedBytes > 0 ? s.logicalBytes / s.storedBytes : 0);
              g.sampled.set({ repository }, s.at);
            }
            const { state } = repositoryPaths(this.dataDir, fqrn);
            if (facts.config?.uploads && existsSync(path.join(state, 'uploads.db'))) {
              const db = new UploadsDb(state);
              try {
                for (const [k, v] of Object.entries(db.counts())) g.uploads.set({ repository, state: k }, v);
              } finally {
                db.close();
              }
            }
          } catch (err) {
            g.readable.set({ repository }, 0);
            this.log.warn('metrics.repository_failed', { repository, error: err });
          }
        }),
      );
    });
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
