import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestLogEntry, Router, ServerOptions } from '../server/index.js';
import { sendBody } from '../server/respond.js';
import { TokenStore } from '../usercode/token-store.js';
import { addAdminRoutes } from './admin-api.js';
import { BargeMetrics } from './barge-metrics.js';
import { healthz, readyz } from './health.js';
import { createJsonLog, type JsonLog, SILENT_LOG } from './json-log.js';
import { METRICS_CONTENT_TYPE } from './metrics-registry.js';
import { repositoryNames } from './repository-facts.js';
import { requestIdOf } from './request-id.js';
import { routeLabel } from './route-label.js';
import { StatsSampler } from './stats-sampler.js';
import { addUiApiRoutes } from './ui-api.js';
import { UiAssets, uiMissing, uiRedirect } from './ui-assets.js';

/** Where `npm run build` puts the dashboard: `dist/ui`, beside this module's `dist/observe`. */
export const DEFAULT_UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'ui');

/** Options of an Observer. */
export interface ObserverOptions {
  dataDir: string;
  /** Where JSON log lines go, one per event; default nowhere. */
  write?: (line: string) => void;
  /** The built dashboard (default DEFAULT_UI_DIR). */
  uiDir?: string;
  /** How often every repository is checked for a change to sample (default 60 s). */
  sampleIntervalMs?: number;
  /** Write nothing into the data directory: samples stay in memory (see StatsSamplerOptions). */
  readOnly?: boolean;
}

/**
 * Everything `barge serve` shows about itself: the request log and metrics (through the server's
 * hooks), /metrics, /healthz and /readyz, the dashboard at /ui/ and its JSON under /api/v1/ui/,
 * and the storage sampler behind the charts. A resource: close() stops the sampler and closes its
 * databases.
 */
export class Observer {
  readonly log: JsonLog;
  readonly sampler: StatsSampler;
  readonly metrics: BargeMetrics;
  private tokens: TokenStore | undefined;
  private draining = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly options: ObserverOptions,
    private readonly ui: UiAssets | undefined,
  ) {
    this.log = options.write ? createJsonLog(options.write) : SILENT_LOG;
    this.sampler = new StatsSampler({
      dataDir: options.dataDir,
      log: this.log,
      readOnly: options.readOnly === true,
    });
    this.metrics = new BargeMetrics(options.dataDir, this.sampler, this.log);
    // Publishes and gc runs happen in other processes: look for them now and then.
    this.timer = setInterval(() => void this.sampleAll(), options.sampleIntervalMs ?? 60_000);
    this.timer.unref();
  }

  /** Loads the dashboard's files and takes a first sample of every repository in the background. */
  static async open(options: ObserverOptions): Promise<Observer> {
    const ui = await UiAssets.load(options.uiDir ?? DEFAULT_UI_DIR);
    const observer = new Observer(options, ui);
    if (!ui) observer.log.warn('ui.missing', { hint: 'npm run build writes dist/ui' });
    void observer.sampleAll();
    return observer;
  }

  /** The server hooks: a request id per request, and one log event and metrics update per answer. */
  serverOptions(): Pick<ServerOptions, 'onRequest' | 'requestId'> {
    return { requestId: requestIdOf, onRequest: (entry) => this.onRequest(entry) };
  }

  /** Adds /metrics, /healthz, /readyz, /ui/ and /api/v1/ui/ to the server's routes. */
  addRoutes(router: Router): Router {
    const { dataDir } = this.options;
    router
      .on(['GET', 'HEAD'], '/healthz', healthz())
      .on(['GET', 'HEAD'], '/readyz', readyz({ dataDir, draining: () => this.draining }))
      .on(['GET', 'HEAD'], '/metrics', async (ctx) => {
        const text = await this.metrics.render();
        sendBody(ctx, 200, Buffer.from(text), {
          'Content-Type': METRICS_CONTENT_TYPE,
          'Cache-Control': 'no-store',
        });
      })
      .on(['GET', 'HEAD'], '/ui', uiRedirect())
      .on(['GET', 'HEAD'], '/ui/*', this.ui ? this.ui.handler() : uiMissing());
    addUiApiRoutes(router, { dataDir, sampler: this.sampler });
    addAdminRoutes(router, {
      dataDir,
      log: this.log,
      tokens: () => {
        this.tokens ??= new TokenStore(dataDir);
        return this.tokens;
      },
    });
    return router;
  }

  /** From now on /readyz answers 503, so load balancers send new requests elsewhere. */
  drain(): void {
    this.draining = true;
  }

  async close(): Promise<void> {
    this.draining = true;
    clearInterval(this.timer);
    await this.sampler.close();
    this.tokens?.close();
    this.tokens = undefined;
  }

  private onRequest(entry: RequestLogEntry): void {
    this.metrics.observeRequest(entry);
    const fields = {
      requestId: entry.requestId,
      method: entry.method,
      path: entry.path,
      route: routeLabel(entry.path),
      status: entry.status,
      bytes: entry.bytes,
      ms: Number(entry.durationMs.toFixed(3)),
      error: entry.error,
    };
    if (entry.status >= 500) this.log.error('http.request', fields);
    else this.log.info('http.request', fields);
  }

  private async sampleAll(): Promise<void> {
    if (this.draining) return;
    const names = await repositoryNames(this.options.dataDir).catch((err) => {
      this.log.warn('stats.scan_failed', { error: err });
      return [];
    });
    for (const fqrn of names) {
      // Starts the sample and returns; it finishes (and logs) in the background.
      await this.sampler.refresh(fqrn, 0).catch((err) => {
        this.log.warn('stats.sample_failed', { repository: fqrn, error: err });
      });
    }
  }
}
