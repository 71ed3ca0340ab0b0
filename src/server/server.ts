import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BargeError } from '../error/index.js';
import { mutableMaxAgeFromEnv } from './cache-policy.js';
import { parseListen } from './listen-address.js';
import { repositoriesJson } from './repositories-json.js';
import { repositoryFiles } from './repository-files.js';
import { sendText } from './respond.js';
import { type RequestContext, Router } from './router.js';

/** One answered request, for structured logs and metrics. */
export interface RequestLogEntry {
  method: string;
  /** The request path without query string, as sent (percent-encoded). */
  path: string;
  status: number;
  /** Body bytes handed to the socket (less than Content-Length when the client went away). */
  bytes: number;
  /** Milliseconds from the request's arrival to the end of the response or connection. */
  durationMs: number;
  /** The error behind a 5xx answer. */
  error?: unknown;
  /** The request's id (ServerOptions.requestId), also sent as `X-Request-Id`. */
  requestId?: string;
}

/** Options of the HTTP server. */
export interface ServerOptions {
  /** barge's data directory; repositories are served from `<dataDir>/repos/<fqrn>/`. */
  dataDir: string;
  /** Called once per request after it is answered; default none. Must not throw. */
  onRequest?: (entry: RequestLogEntry) => void;
  /**
   * Names each request as it arrives; the id is sent back as `X-Request-Id` (handlers read it
   * with `ctx.res.getHeader('x-request-id')`) and given to onRequest. Default none.
   */
  requestId?: (req: http.IncomingMessage) => string;
  /**
   * Idle keep-alive connections are closed after this many ms (default 75 000, nginx's default).
   * Longer than Squid's 60 s server_idle_pconn_timeout, so Squid closes first and never sends a
   * request into a connection the server is closing.
   */
  keepAliveTimeoutMs?: number;
  /**
   * Seconds proxies may keep `.cvmfspublished` and the other files outside `data/` (default 61, as
   * cvmfs_server; or `BARGE_MUTABLE_MAX_AGE`). Clients see a new revision at most this late.
   */
  mutableMaxAge?: number;
  /** PEM certificate (chain) and key: serve HTTPS instead of HTTP (the upload API carries tokens). */
  tls?: { cert: Buffer; key: Buffer };
}

/** Options of startServer: the server's, plus where to listen. */
export interface StartServerOptions extends ServerOptions {
  /** `host:port` (default `127.0.0.1:8080`); port 0 picks a free one. */
  listen?: string;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`; repositories are at `${url}/cvmfs/<fqrn>`. */
  readonly url: string;
  readonly server: http.Server;
  /** Stops accepting, closes idle connections, and resolves when in-flight responses are done. */
  close(): Promise<void>;
}

/** The route table of `barge serve`; later parts (API, metrics, UI) add their routes here. */
export function createRouter(options: ServerOptions): Router {
  const reposDir = path.resolve(options.dataDir, 'repos');
  return new Router()
    .on(['GET', 'HEAD'], '/cvmfs/info/v1/repositories.json', repositoriesJson(reposDir))
    .on(
      ['GET', 'HEAD'],
      '/cvmfs/:fqrn/*',
      repositoryFiles(reposDir, options.mutableMaxAge ?? mutableMaxAgeFromEnv()),
    );
}

/** An http.Server answering `router` (by default barge's routes), not yet listening. */
export function createServer(options: ServerOptions, router: Router = createRouter(options)): http.Server {
  const { onRequest, requestId } = options;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const ctx: RequestContext = { req, res, path: requestPath(req.url ?? ''), params: {}, bytes: 0 };
    const id = requestId?.(req);
    if (id !== undefined) res.setHeader('X-Request-Id', id);
    if (onRequest) {
      const started = performance.now();
      res.once('close', () => {
        onRequest({
          method: req.method ?? '',
          path: ctx.path || (req.url ?? ''),
          status: res.statusCode,
          bytes: ctx.bytes,
          durationMs: performance.now() - started,
          ...(ctx.error === undefined ? {} : { error: ctx.error }),
          ...(id === undefined ? {} : { requestId: id }),
        });
      });
    }
    if (ctx.path === '') {
      sendText(ctx, 400, 'the request target must be a path\n');
      return;
    }
    void router.handle(ctx);
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 75_000;
  return server;
}

/** Creates the server and listens; LISTEN_FAILED when the address is taken, INVALID_ARGUMENT when malformed. */
export async function startServer(options: StartServerOptions, router?: Router): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:8080');
  const server = createServer(options, router);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new BargeError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${err.message}`, {
          cause: err,
          hint: 'choose another address or port (listen: host:port), or stop the process that holds it',
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${shown}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

/**
 * The path of a request target without its query string. Proxies and some clients send the
 * absolute form (`GET http://host/cvmfs/…`, RFC 9112 §3.2.2), which a server must accept; its
 * scheme and authority are dropped. '' for anything else (`*`, garbage).
 */
function requestPath(target: string): string {
  let rest = target;
  if (!rest.startsWith('/')) {
    const absolute = /^https?:\/\/[^/?#]*/i.exec(rest);
    if (!absolute) return '';
    rest = rest.slice(absolute[0].length) || '/';
  }
  const query = rest.indexOf('?');
  return query < 0 ? rest : rest.slice(0, query);
}
