import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { BargeError } from '../../error/index.js';
import { proxyFor, stripBrackets } from './proxy-for.js';

/** Options of the HTTP transport. */
export interface TransportOptions {
  /** `http://proxy:3128` for every request, false for none; default from the environment (proxyFor). */
  proxy?: string | false;
  env?: NodeJS.ProcessEnv;
  /** Extra CA certificates (PEM) for registries with a private CA. */
  ca?: string | Buffer | (string | Buffer)[];
  /** An attempt fails after this many ms without a byte moving (default 30 000). */
  timeoutMs?: number;
  userAgent?: string;
  /** Connections per host at most (default 8). */
  maxSockets?: number;
}

/** One request; `authorization` goes to the URL's origin only, never to a redirect target elsewhere. */
export interface TransportRequest {
  method: 'GET' | 'HEAD';
  url: URL;
  headers?: Record<string, string>;
  authorization?: string;
}

/** An answer whose body is still to be read (or drained with `body.resume()`). */
export interface TransportResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: URL;
  body: http.IncomingMessage;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/**
 * HTTP for the registry client: kept-alive connections, plain or through an HTTP proxy (absolute
 * URIs for http://, CONNECT tunnels for https://), and redirects followed by hand because registries
 * send blob GETs on to object storage or a CDN, which must not see the registry's Authorization.
 * Never asks for Content-Encoding: blob digests are over the bytes as stored.
 */
export class HttpTransport {
  private readonly options: TransportOptions;
  private readonly agents = new Map<string, http.Agent>();
  private readonly timeoutMs: number;

  constructor(options: TransportOptions = {}) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Sends the request and follows redirects; rejects on connection errors and timeouts. */
  async request(req: TransportRequest): Promise<TransportResponse> {
    let url = req.url;
    let authorization = req.authorization;
    for (let hop = 0; ; hop++) {
      const res = await this.once(req.method, url, req.headers ?? {}, authorization);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) {
        return { status: res.statusCode ?? 0, headers: res.headers, url, body: res };
      }
      res.resume();
      if (hop >= MAX_REDIRECTS)
        throw new Error(`more than ${MAX_REDIRECTS} redirects from ${req.url.origin}`);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new Error(`redirect to unsupported URL scheme ${next.protocol}`);
      }
      // Pre-signed storage URLs carry their own authorisation; the registry's token stays home.
      if (next.origin !== url.origin) authorization = undefined;
      url = next;
    }
  }

  /** Closes kept-alive connections; requests in flight fail. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** The proxy a URL is reached through, or undefined for a direct connection. */
  proxyOf(url: URL): URL | undefined {
    const proxy =
      this.options.proxy === false
        ? undefined
        : (this.options.proxy ?? proxyFor(url, this.options.env ?? process.env));
    if (!proxy) return undefined;
    const parsed = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
    if (parsed.protocol !== 'http:') {
      throw new BargeError('INVALID_ARGUMENT', `proxy ${parsed.origin} is not an http:// proxy`, {
        hint: 'give the proxy as http://host:port (https:// registries are reached through it with CONNECT)',
      });
    }
    return parsed;
  }

  private once(
    method: string,
    url: URL,
    headers: Record<string, string>,
    authorization: string | undefined,
  ): Promise<http.IncomingMessage> {
    const proxy = this.proxyOf(url);
    const all: Record<string, string> = { 'User-Agent': this.options.userAgent ?? 'barge', ...headers };
    if (authorization) all.Authorization = authorization;
    const viaHttpProxy = proxy !== undefined && url.protocol === 'http:';
    if (viaHttpProxy && proxy.username) all['Proxy-Authorization'] = proxyAuthorization(proxy);
    const options: http.RequestOptions = {
      agent: this.agentFor(url, proxy),
      method,
      // An http:// request through a proxy names the absolute URI (RFC 9112 §3.2.2).
      hostname: stripBrackets((viaHttpProxy ? proxy : url).hostname),
      port: (viaHttpProxy ? proxy : url).port || (viaHttpProxy ? 80 : undefined),
      path: viaHttpProxy ? url.href : `${url.pathname}${url.search}`,
      headers: viaHttpProxy ? { ...all, Host: url.host } : all,
      timeout: this.timeoutMs,
    };
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(options, resolve);
      req.on('timeout', () => req.destroy(new Error(`no data for ${this.timeoutMs} ms from ${url.host}`)));
      req.on('error', reject);
      req.end();
    });
  }

  private agentFor(url: URL, proxy: URL | undefined): http.Agent {
    const key = `${url.protocol}|${proxy?.href ?? 'direct'}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    const options: https.AgentOptions = {
      keepAlive: true,
      maxSockets: this.options.maxSockets ?? 8,
      // LIFO reuses the warmest connection, so idle extras age out instead of being reset by the
      // server's keep-alive timeout in the middle of a request.
      scheduling: 'lifo',
      ...(this.options.ca ? { ca: this.options.ca } : {}),
    };
    if (url.protocol === 'https:') {
      agent = proxy ? new TunnelAgent(proxy, this.timeoutMs, options) : new https.Agent(options);
    } else {
      agent = new http.Agent(options);
    }
    this.agents.set(key, agent);
    return agent;
  }
}

/** An https agent whose connections are CONNECT tunnels through an HTTP proxy (RFC 9110 §9.3.6). */
class TunnelAgent extends https.Agent {
  private readonly proxy: URL;
  private readonly timeoutMs: number;

  constructor(proxy: URL, timeoutMs: number, options: https.AgentOptions) {
    super(options);
    this.proxy = proxy;
    this.timeoutMs = timeoutMs;
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const target = `${options.host?.includes(':') ? `[${options.host}]` : options.host}:${options.port ?? 443}`;
    const headers: Record<string, string> = { Host: target };
    if (this.proxy.username) headers['Proxy-Authorization'] = proxyAuthorization(this.proxy);
    const connect = http.request({
      hostname: stripBrackets(this.proxy.hostname),
      port: this.proxy.port || 80,
      method: 'CONNECT',
      path: target,
      headers,
      timeout: this.timeoutMs,
      agent: false,
    });
    const done = (err: Error | null, stream?: Duplex) => callback?.(err, stream as Duplex);
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done(proxyRefused(this.proxy, target, res.statusCode ?? 0));
        return;
      }
      const secure = tls.connect({
        socket,
        // An empty servername (an IP address) sends no SNI; the certificate is checked against host.
        host: options.host ?? undefined,
        servername: options.servername ?? options.host ?? undefined,
        ca: options.ca,
        rejectUnauthorized: options.rejectUnauthorized,
      });
      done(null, secure);
    });
    connect.once('timeout', () =>
      connect.destroy(new Error(`proxy ${this.proxy.host} did not answer CONNECT`)),
    );
    connect.once('error', (err) => done(err));
    connect.end();
    // The socket arrives through the callback (http.Agent supports asynchronous creation).
    return undefined;
  }
}

function proxyRefused(proxy: URL, target: string, status: number): Error {
  const text = `proxy ${proxy.host} refused to open a tunnel to ${target}: HTTP ${status}`;
  // A proxy's own server errors may pass; refusals will not, so they are not worth retrying.
  if (status >= 500) return new Error(text);
  return new BargeError('REGISTRY_UNAVAILABLE', text, {
    hint:
      status === 407
        ? 'the proxy needs credentials: give them in the proxy URL (http://user:password@proxy:3128)'
        : 'ask the proxy operator to allow CONNECT to this registry, or exclude it with no_proxy',
    details: { proxy: proxy.host, target, status },
  });
}

function proxyAuthorization(proxy: URL): string {
  const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(user).toString('base64')}`;
}
