/**
 * Server: the HTTP shell of `barge serve`. It serves every repository as static files at
 * `/cvmfs/<fqrn>/<key>` from `<dataDir>/repos/<fqrn>/`, with exactly the headers stock cvmfs2
 * clients and Squid caches need (spec §1: 61 s for `.cvmfs*` files, 3 days for `data/` objects,
 * no validators, no Content-Encoding, single byte ranges), plus cvmfs_server's
 * `/cvmfs/info/v1/repositories.json`. Requests go through a tiny router of its own, so the publish
 * API, metrics and the dashboard can add their routes; a request-log hook lets logging and
 * metrics attach without the server writing anything itself. For heavy traffic it also renders
 * docs/nginx.conf for a data directory (`barge nginx-conf`): nginx serves the files on disk and
 * passes the rest to `barge serve`.
 */

export { type ByteRange, parseRange } from './byte-range.js';
export {
  cacheHeaders,
  MUTABLE_MAX_AGE,
  maxAgeOf,
  mutableMaxAgeFromEnv,
  OBJECT_MAX_AGE,
} from './cache-policy.js';
export { statusForError } from './error-status.js';
export { type ListenAddress, parseListen } from './listen-address.js';
export { bargeVersion, NGINX_TEMPLATE, type NginxConfigOptions, renderNginxConfig } from './nginx-config.js';
export {
  listRepositories,
  type RepositoriesDocument,
  type RepositoryEntry,
} from './repositories-json.js';
export { isFqrn, parseRepositoryPath, type RepositoryFile } from './repository-path.js';
export { type RequestContext, type RouteHandler, Router } from './router.js';
export {
  createRouter,
  createServer,
  type RequestLogEntry,
  type RunningServer,
  type ServerOptions,
  type StartServerOptions,
  startServer,
} from './server.js';
