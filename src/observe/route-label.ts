/**
 * Route labels of `barge serve`, for request metrics. A label is never the raw path: every fqrn,
 * object hash and upload id would be a series of its own and a scraper would drown. Patterns follow
 * the router's table (server/, usercode/api-routes.ts, observe/); the router does not report the
 * pattern it matched, so the path is classified again here.
 */
const ROUTES: [RegExp, string | ((m: RegExpExecArray) => string)][] = [
  [/^\/cvmfs\/info\/v1\/repositories\.json$/, '/cvmfs/info/v1/repositories.json'],
  [/^\/cvmfs\/[^/]+\/data\//, '/cvmfs/:fqrn/data/*'],
  [/^\/cvmfs\/[^/]+\/\.cvmfs/, '/cvmfs/:fqrn/.cvmfs*'],
  [/^\/cvmfs\//, '/cvmfs/:fqrn/*'],
  [/^\/\/?pubapi\/(exists|update|publish|config|ping)$/, (m) => `/pubapi/${m[1]}`],
  [/^\/\/?pubapi\//, '/pubapi/:op'],
  [/^\/api\/v1\/uploads\/[^/]+\/[^/]+\/pin$/, '/api/v1/uploads/:group/:digest/pin'],
  [/^\/api\/v1\/uploads\/[^/]+\/[^/]+$/, '/api/v1/uploads/:group/:digest'],
  [/^\/api\/v1\/uploads\/[^/]+$/, '/api/v1/uploads/:group'],
  [/^\/api\/v1\/(images|config)$/, (m) => `/api/v1/${m[1]}`],
  [/^\/api\/v1\/ui\/repositories$/, '/api/v1/ui/repositories'],
  [
    /^\/api\/v1\/ui\/repositories\/[^/]+\/(images|uploads|stats|gc|revisions|files)$/,
    (m) => `/api/v1/ui/repositories/:fqrn/${m[1]}`,
  ],
  [/^\/(metrics|healthz|readyz)$/, (m) => `/${m[1]}`],
  [/^\/ui\/assets\//, '/ui/assets/*'],
  [/^\/ui(\/|$)/, '/ui/'],
];

/** The bounded label of a request path: its route pattern, or `other`. */
export function routeLabel(path: string): string {
  for (const [pattern, label] of ROUTES) {
    const m = pattern.exec(path);
    if (m) return typeof label === 'string' ? label : label(m);
  }
  return 'other';
}

/** Which upload API a request published through ('pubapi' or 'v1'), or undefined for other requests. */
export function uploadApiOf(method: string, path: string): 'pubapi' | 'v1' | undefined {
  if (/^\/\/?pubapi\/publish$/.test(path)) return 'pubapi';
  if ((method === 'PUT' || method === 'POST') && /^\/api\/v1\/uploads\/[^/]+\/[^/]+$/.test(path)) return 'v1';
  return undefined;
}
