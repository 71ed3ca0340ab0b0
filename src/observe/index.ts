/**
 * Observe: what `barge serve` tells about itself and its repositories. A structured JSON log (one
 * line per request and per meaningful step, each with the request's id), Prometheus metrics at
 * /metrics (requests by route, upload latency, and per repository revision, whitelist expiry,
 * publishes, gc runs, objects, bytes and dedup ratio read from disk at scrape time), /healthz and
 * /readyz for load balancers, and the dashboard: a small built front end at /ui/ over read-only
 * JSON at /api/v1/ui/, with a few admin actions behind an admin token. Storage over time comes
 * from samples kept in `<state>/stats.db`, taken when a repository's revision or gc state changes.
 */

export { BargeMetrics } from './barge-metrics.js';
export { browsePath, type DirectoryView, type FileView, listDirectory } from './file-listing.js';
export { type ImageView, listImageViews } from './image-records.js';
export { createJsonLog, type JsonLog, type LogFields, type LogLevel, SILENT_LOG } from './json-log.js';
export {
  Counter,
  Gauge,
  Histogram,
  LATENCY_BUCKETS,
  type Labels,
  METRICS_CONTENT_TYPE,
  MetricsRegistry,
} from './metrics-registry.js';
export { DEFAULT_UI_DIR, Observer, type ObserverOptions } from './observer.js';
export {
  type LedgerFacts,
  type RepositoryFacts,
  readFacts,
  readLedger,
  repositoryNames,
} from './repository-facts.js';
export { requestIdOf } from './request-id.js';
export { routeLabel, uploadApiOf } from './route-label.js';
export { type ImageSyncRecord, StatsDb, type StatsSample } from './stats-db.js';
export { StatsSampler, type StatsSamplerOptions } from './stats-sampler.js';
export { type BrowsableRoot, WHITELIST_WARNING_DAYS } from './ui-api.js';
export { UiAssets } from './ui-assets.js';
