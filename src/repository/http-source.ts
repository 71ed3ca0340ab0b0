import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { BargeError, isBargeError } from '../error/index.js';
import { noProxyExempts, stripBrackets } from './no-proxy.js';
import type { RepositorySource } from './source.js';

/** Options of an HTTP source. */
export interface HttpSourceOptions {
  /** Connections at most, kept alive and reused (default 8); further requests queue. */
  maxSockets?: number;
  /**
   * An attempt fails after this many ms without a byte moving, connecting included (default
   * 20 000; the cvmfs client uses 5 s through a proxy and 10 s direct, but barge also fetches
   * large objects from busy servers).
   */
  timeoutMs?: number;
  /** Attempts after the first on connection errors, timeouts, 5xx and 429 (default 3). */
  retries?: number;
  /** Delay before the first retry in ms (default 500); doubles each time, with jitter. */
  backoffMs?: number;
  /** Longest delay between attempts, also for a server's Retry-After (default 10 000). */
  maxBackoffMs?: number;
  /**
   * HTTP proxy (`http://squid:3128`) for http:// repositories; false for direct. Default: the
   * `http_proxy` environment variable unless `no_proxy` matches the host.
   */
  proxy?: string | false;
  /** User-Agent header (default `barge`). */
  userAgent?: string;
}

/** The answer of one attempt. */
interface Answer {
  status: number;
  body?: Buffer;
  retryAfterMs?: number;
}

/** Raised inside an attempt when the bytes did not all arrive: worth another attempt. */
class TransferError extends Error {}

/**
 * A repository read over HTTP, as the cvmfs client reads it: plain GETs of `<base>/<key>`
 * through a pool of kept-alive connections, optionally through an HTTP proxy such as Squid.
 *
 * It never sends Accept-Encoding and refuses a Content-Encoding: objects are zlib streams already
 * and their hashes are over the bytes as stored, so a transparently gunzipped or re-encoded body
 * would fail verification far from its cause. Redirects are not followed, as the cvmfs client
 * does not by default (CVMFS_FOLLOW_REDIRECTS); a repository that needs them would not mount.
 */
export class HttpSource implements RepositorySource {
  readonly location: string;
  /** The proxy in use, or undefined for direct connections. */
  readonly proxy: string | undefined;
  private readonly base: URL;
  private readonly proxyUrl: URL | undefined;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly headers: Record<string, string>;

  constructor(baseUrl: string, options: HttpSourceOptions = {}) {
    this.base = parseBase(baseUrl);
    this.location = this.base.href.replace(/\/$/, '');
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    const proxy = options.proxy === undefined ? proxyFor(this.base) : options.proxy || undefined;
    this.proxyUrl = proxy === undefined ? undefined : parseProxy(proxy, this.base);
    this.proxy = this.proxyUrl === undefined ? undefined : withoutCredentials(this.proxyUrl);
    this.headers = { 'User-Agent': options.userAgent ?? 'barge' };
    if (this.proxyUrl?.username) {
      const user = `${decodeURIComponent(this.proxyUrl.username)}:${decodeURIComponent(this.proxyUrl.password)}`;
      this.headers['Proxy-Authorization'] = `Basic ${Buffer.from(user).toString('base64')}`;
    }
    const maxSockets = options.maxSockets ?? 8;
    const agentOptions: http.AgentOptions = {
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      // LIFO reuses the most recently used connection, so idle extras age out instead of being
      // kept barely alive by round-robin (and then reset by the server's keep-alive timeout).
      scheduling: 'lifo',
    };
    const tls = this.base.protocol === 'https:' && this.proxyUrl === undefined;
    this.agent = tls ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  async fetch(key: string): Promise<Buffer> {
    const body = await this.get(key);
    if (body === undefined) {
      throw new BargeError(
        'OBJECT_NOT_FOUND',
        `${this.url(key)} answered 404: the repository has no ${key}`,
        {
          hint: 'check that the URL is the repository base (…/cvmfs/<fqrn>) and that the object was not garbage-collected',
          details: { url: this.url(key), status: 404 },
        },
      );
    }
    return body;
  }

  async fetchOptional(key: string): Promise<Buffer | undefined> {
    return this.get(key);
  }

  /** Closes the kept-alive connections; requests in flight fail. */
  close(): void {
    this.agent.destroy();
  }

  private url(key: string): string {
    return `${this.location}/${encodeKey(key)}`;
  }

  /** The body of `key`, or undefined on 404; retries what is worth retrying. */
  private async get(key: string): Promise<Buffer | undefined> {
    const url = this.url(key);
    for (let attempt = 0; ; attempt++) {
      let answer: Answer;
      try {
        answer = await this.attempt(url);
      } catch (err) {
        if (isBargeError(err)) throw err;
        if (attempt >= this.retries)
          throw this.failed(url, (err as Error).message, attempt + 1, undefined, err);
        await sleep(this.backoff(attempt));
        continue;
      }
      const { status } = answer;
      if (status === 200) return answer.body;
      if (status === 404) return undefined;
      const reason = `HTTP ${status} ${http.STATUS_CODES[status] ?? ''}`.trim();
      const transient = status >= 500 || status === 429;
      if (!transient || attempt >= this.retries) throw this.failed(url, reason, attempt + 1, status);
      await sleep(this.backoff(attempt, answer.retryAfterMs));
    }
  }

  /** One GET; resolves with any HTTP answer, rejects on connection errors, timeouts, short bodies. */
  private attempt(url: string): Promise<Answer> {
    const target = new URL(url);
    const via = this.proxyUrl;
    const options: http.RequestOptions = {
      agent: this.agent,
      method: 'GET',
      hostname: stripBrackets((via ?? target).hostname),
      port: (via ?? target).port || (via ? 80 : undefined),
      // A proxy is sent the absolute URI (RFC 9112 §3.2.2), which is what Squid expects.
      path: via ? target.href : target.pathname,
      headers: via ? { ...this.headers, Host: target.host } : this.headers,
      timeout: this.timeoutMs,
    };
    const client = this.agent instanceof https.Agent ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      const req = client.request(options, (res) => {
        const status = res.statusCode ?? 0;
        const encoding = res.headers['content-encoding'];
        if (status === 200 && encoding !== undefined && encoding.toLowerCase() !== 'identity') {
          res.resume();
          reject(
            new BargeError('FETCH_FAILED', `${url} was sent with Content-Encoding: ${encoding}`, {
              hint: 'serve repository files as they are stored (no gzip/brotli filter in the web server or proxy); the cvmfs client does not decode them either',
              details: { url, contentEncoding: encoding },
            }),
          );
          return;
        }
        if (status !== 200) {
          // Drain so the connection goes back to the pool.
          res.resume();
          res.on('end', () => resolve({ status, retryAfterMs: retryAfter(res.headers['retry-after']) }));
          res.on('error', reject);
          return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const expected = res.headers['content-length'];
          if (expected !== undefined && Number(expected) !== length) {
            reject(new TransferError(`body ended after ${length} of ${expected} bytes`));
            return;
          }
          resolve({ status, body: Buffer.concat(chunks, length) });
        });
        res.on('close', () => {
          if (!res.complete) reject(new TransferError(`connection closed after ${length} bytes of the body`));
        });
      });
      req.on('timeout', () => req.destroy(new TransferError(`no data for ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Exponential backoff with jitter (half to all of the step), so clients retrying together spread out. */
  private backoff(attempt: number, retryAfterMs?: number): number {
    const step = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt);
    const delay = step * (0.5 + Math.random() / 2);
    return Math.min(this.maxBackoffMs, Math.max(delay, retryAfterMs ?? 0));
  }

  private failed(
    url: string,
    reason: string,
    attempts: number,
    status?: number,
    cause?: unknown,
  ): BargeError {
    const via = this.proxy ? ` via proxy ${this.proxy}` : '';
    return new BargeError('FETCH_FAILED', `GET ${url}${via} failed: ${reason} (${attempts} attempt(s))`, {
      cause,
      hint:
        status === undefined || status >= 500
          ? 'check that the server (and proxy) is up and reachable, then try again'
          : 'check the repository URL (…/cvmfs/<fqrn>) and that the server lets this client read it',
      details: { url, status, attempts, ...(this.proxy ? { proxy: this.proxy } : {}) },
    });
  }
}

/** An HTTP source for the repository at `baseUrl` (`http://host/cvmfs/<fqrn>`); close() it when done. */
export function httpSource(baseUrl: string, options: HttpSourceOptions = {}): HttpSource {
  return new HttpSource(baseUrl, options);
}

function parseBase(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (err) {
    throw new BargeError('INVALID_ARGUMENT', `'${baseUrl}' is not a URL`, {
      cause: err,
      hint: 'give the repository base URL, e.g. http://stratum1.example.org/cvmfs/atlas.cern.ch',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BargeError('INVALID_ARGUMENT', `'${baseUrl}' is not an http(s) URL`, {
      hint: 'give the repository base URL, e.g. http://stratum1.example.org/cvmfs/atlas.cern.ch',
    });
  }
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.replace(/\/*$/, '/');
  return url;
}

function parseProxy(proxy: string, base: URL): URL {
  let url: URL;
  try {
    url = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
  } catch (err) {
    throw new BargeError('INVALID_ARGUMENT', `proxy '${proxy}' is not a URL`, {
      cause: err,
      hint: 'give the proxy as http://host:port',
    });
  }
  if (url.protocol !== 'http:') {
    throw new BargeError('INVALID_ARGUMENT', `proxy '${proxy}' is not an http:// proxy`, {
      hint: 'give the proxy as http://host:port (as CVMFS_HTTP_PROXY does)',
    });
  }
  if (base.protocol === 'https:') {
    // Tunnelling TLS needs CONNECT; cvmfs repositories are served over plain HTTP through Squid.
    throw new BargeError('INVALID_ARGUMENT', `cannot reach ${base.href} through proxy ${proxy}`, {
      hint: 'use an http:// repository URL with a proxy, or proxy: false for a direct https connection',
    });
  }
  return url;
}

/** A key as a URL path: each segment percent-encoded; no way out of the base. */
function encodeKey(key: string): string {
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new BargeError('INVALID_PATH', `'${key}' is not a repository file key`, {
      hint: 'keys are relative paths such as .cvmfspublished or data/ab/cdef…C',
    });
  }
  return segments.map(encodeURIComponent).join('/');
}

/** A URL for messages: proxy passwords stay out of errors and logs. */
function withoutCredentials(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  return shown.href.replace(/\/$/, '');
}

function retryAfter(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header) * 1000;
}

/**
 * The proxy for `target` from the environment, as curl reads it: `http_proxy` for http:// URLs
 * (lower case only: upper-case HTTP_PROXY can be set by a request header in CGI, "httpoxy"),
 * unless `no_proxy`/`NO_PROXY` lists the host (`*`, a name, a `.domain` suffix, optional `:port`).
 * https:// URLs are never proxied (no CONNECT tunnelling).
 */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const proxy = target.protocol === 'http:' ? env.http_proxy : undefined;
  if (!proxy) return undefined;
  const host = stripBrackets(target.hostname).toLowerCase();
  const port = target.port || '80';
  return noProxyExempts(env.no_proxy ?? env.NO_PROXY ?? '', host, port) ? undefined : proxy;
}
