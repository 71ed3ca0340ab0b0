import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BargeError, errnoCode, isBargeError } from '../../error/index.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from './backoff.js';
import type { CredentialStore } from './credentials.js';
import { HttpTransport, type TransportOptions, type TransportResponse } from './http-transport.js';
import { formatImageReference, type ImageReference } from './image-reference.js';
import { isLoopback } from './proxy-for.js';
import { type AuthTarget, RegistryAuth, type SmallResponse } from './registry-auth.js';
import type { RegistryEventListener } from './registry-event.js';

/** One request to a registry, with what the messages need to say about it. */
export interface RegistryRequest {
  ref: ImageReference;
  /** `manifest of docker.io/library/ubuntu:22.04`, `tags of ghcr.io/org/app`. */
  what: string;
  method: 'GET' | 'HEAD';
  /** `/v2/<name>/manifests/<reference>`, or an absolute URL on the registry (tag list pages). */
  path: string;
  headers?: Record<string, string>;
  /** The error for a 404, given the registry's own error text. */
  notFound: (registryMessage: string) => BargeError;
}

/** Options of RegistryHttp. */
export interface RegistryHttpOptions extends TransportOptions {
  /** Registry hosts (with port) spoken to over plain http. */
  insecure?: string[];
  /** Loopback registries (localhost, 127.0.0.1, ::1) over plain http, as docker does (default true). */
  loopbackHttp?: boolean;
  onEvent?: RegistryEventListener;
}

// Certificate failures do not heal with retries (node's X509 verify codes and tls.checkServerIdentity's).
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A status worth another attempt (429, 5xx), raised inside an attempt. */
class RetryableStatus extends Error {
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  constructor(status: number, message: string, retryAfterMs: number | undefined) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Requests to registries: the URL of each (https, or http for insecure and loopback registries),
 * authorisation with one renewal per 401, retries with backoff on 429, 5xx and connection errors,
 * and the mapping of final failures to BargeErrors that name the registry and the reference.
 */
export class RegistryHttp {
  readonly transport: HttpTransport;
  readonly auth: RegistryAuth;
  private readonly policy: RetryPolicy;
  private readonly options: RegistryHttpOptions;

  constructor(credentials: CredentialStore, policy: RetryPolicy, options: RegistryHttpOptions) {
    this.transport = new HttpTransport(options);
    this.policy = policy;
    this.options = options;
    this.auth = new RegistryAuth(credentials, (url, authorization) => this.fetchToken(url, authorization));
  }

  /** `https://<registry>` (or http:// for insecure and loopback registries). */
  baseUrl(ref: ImageReference): string {
    const hostname = new URL(`http://${ref.registry}`).hostname;
    const plain =
      (this.options.insecure ?? []).includes(ref.registry) ||
      (this.options.loopbackHttp !== false && isLoopback(hostname));
    return `${ref.scheme ?? (plain ? 'http' : 'https')}://${ref.registry}`;
  }

  /** A successful (2xx) answer, body unread; retries and auth inside. */
  send(req: RegistryRequest): Promise<TransportResponse> {
    return this.withRetries(req, () => this.attempt(req));
  }

  /** A successful answer with its body (at most `limit` bytes); a body cut short is retried too. */
  fetchBody(req: RegistryRequest, limit: number): Promise<{ res: TransportResponse; body: Buffer }> {
    return this.withRetries(req, async () => {
      const res = await this.attempt(req);
      return { res, body: await readBody(res, limit, req) };
    });
  }

  /** Runs `attempt` until it succeeds, throws a BargeError, or the retries are used up. */
  async withRetries<T>(req: RegistryRequest, attempt: () => Promise<T>): Promise<T> {
    const url = this.url(req);
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (isBargeError(err)) throw err;
        if (CERTIFICATE_ERRORS.has(errnoCode(err) ?? '')) throw this.untrusted(req, err as Error);
        const status = err instanceof RetryableStatus ? err.status : undefined;
        const retryAfterMs = err instanceof RetryableStatus ? err.retryAfterMs : undefined;
        const tooLong = retryAfterMs !== undefined && retryAfterMs > this.policy.maxRetryAfterMs;
        if (n >= this.policy.retries || (status === 429 && tooLong))
          throw this.gaveUp(req, err as Error, n + 1);
        const delayMs = backoffDelay(this.policy, n, retryAfterMs);
        this.options.onEvent?.({
          kind: 'retry',
          url: url.href,
          attempt: n + 1,
          delayMs,
          reason: (err as Error).message,
        });
        await sleep(delayMs);
      }
    }
  }

  /** One attempt: at most two sends, the second after learning from a 401 how to authorise. */
  private async attempt(req: RegistryRequest): Promise<TransportResponse> {
    const target = this.authTarget(req);
    const url = this.url(req);
    for (let round = 0; ; round++) {
      const authorization = await this.auth.authorization(target);
      const res = await this.transport.request({
        method: req.method,
        url,
        headers: req.headers ?? {},
        authorization,
      });
      if (res.status === 401) {
        res.body.resume();
        if (round > 0)
          throw this.auth.unauthorized(target, 'it still answered 401 after barge authenticated as it asked');
        await this.auth.challenge(target, header(res.headers['www-authenticate']));
        continue;
      }
      if (res.status >= 200 && res.status < 300) return res;
      const message = await errorText(res);
      const reason = `HTTP ${res.status} ${http.STATUS_CODES[res.status] ?? ''}${message ? `: ${message}` : ''}`;
      if (res.status === 429 || res.status >= 500) {
        throw new RetryableStatus(res.status, reason, parseRetryAfter(header(res.headers['retry-after'])));
      }
      if (res.status === 404) throw req.notFound(message || 'not found');
      if (res.status === 403) throw this.auth.unauthorized(target, reason, 403);
      throw new BargeError(
        'REGISTRY_PROTOCOL_ERROR',
        `${req.ref.registry} answered ${reason} for ${req.what}`,
        {
          hint: 'the request was refused as malformed; check the reference, and report it if it looks right',
          details: { registry: req.ref.registry, status: res.status },
        },
      );
    }
  }

  private async fetchToken(url: URL, authorization: string | undefined): Promise<SmallResponse> {
    const req: RegistryRequest = {
      ref: {
        registry: url.host,
        displayRegistry: url.host,
        repository: '',
        tag: undefined,
        digest: undefined,
        scheme: undefined,
      },
      what: `a token from ${url.origin}`,
      method: 'GET',
      path: url.href,
      notFound: () =>
        new BargeError('REGISTRY_PROTOCOL_ERROR', `the token service ${url.origin} answered 404`),
    };
    return this.withRetries(req, async () => {
      const res = await this.transport.request({ method: 'GET', url, authorization });
      if (res.status === 429 || res.status >= 500) {
        res.body.resume();
        throw new RetryableStatus(
          res.status,
          `token service answered HTTP ${res.status}`,
          parseRetryAfter(header(res.headers['retry-after'])),
        );
      }
      return { status: res.status, headers: res.headers, body: await readBody(res, 1 << 20, req) };
    });
  }

  private url(req: RegistryRequest): URL {
    return new URL(req.path, this.baseUrl(req.ref));
  }

  private authTarget(req: RegistryRequest): AuthTarget {
    return {
      registry: req.ref.registry,
      protocol: this.baseUrl(req.ref).startsWith('https:') ? 'https:' : 'http:',
      scope: req.ref.repository ? `repository:${req.ref.repository}:pull` : '',
      what: req.what,
    };
  }

  private untrusted(req: RegistryRequest, err: Error): BargeError {
    return new BargeError(
      'REGISTRY_UNAVAILABLE',
      `${req.ref.registry} presented a certificate barge does not trust (${errnoCode(err)}): ${err.message}`,
      {
        cause: err,
        hint: 'for a registry with a private CA, give its certificate as the ca option; list a test registry as insecure to use plain http',
        details: { registry: req.ref.registry, code: errnoCode(err) },
      },
    );
  }

  private gaveUp(req: RegistryRequest, err: Error, attempts: number): BargeError {
    const status = err instanceof RetryableStatus ? err.status : undefined;
    const via = this.transport.proxyOf(this.url(req));
    const context = `${req.what} from ${req.ref.registry}${via ? ` via proxy ${via.host}` : ''}`;
    if (status === 429) {
      return new BargeError(
        'REGISTRY_RATE_LIMITED',
        `${req.ref.registry} limits requests: ${err.message} (${req.what})`,
        {
          cause: err,
          hint: 'wait and try again; Docker Hub limits anonymous pulls per address, so log in (credentials raise the limit) or use a mirror',
          details: { registry: req.ref.registry, attempts, status },
        },
      );
    }
    return new BargeError(
      'REGISTRY_UNAVAILABLE',
      `cannot get ${context}: ${err.message} (${attempts} attempt(s))`,
      {
        cause: err,
        hint:
          status === undefined
            ? 'check the registry host name, the network and proxy settings (https_proxy, no_proxy), then try again'
            : 'the registry has trouble; try again later',
        details: { registry: req.ref.registry, attempts, status, reference: formatImageReference(req.ref) },
      },
    );
  }
}

/** Reads a whole body of at most `limit` bytes; a body cut short rejects with a plain (retryable) Error. */
export async function readBody(res: TransportResponse, limit: number, req: RegistryRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) {
      res.body.destroy();
      throw new BargeError(
        'REGISTRY_PROTOCOL_ERROR',
        `${req.ref.registry} sent more than ${limit} bytes for ${req.what}`,
        {
          hint: 'no registry answer should be that large; check that the host is a registry',
          details: { registry: req.ref.registry, limit },
        },
      );
    }
    chunks.push(chunk);
  }
  const expected = res.headers['content-length'];
  if (req.method === 'GET' && expected !== undefined && Number(expected) !== length) {
    throw new Error(`the body ended after ${length} of ${expected} bytes`);
  }
  return Buffer.concat(chunks, length);
}

/** The registry's error text (`MANIFEST_UNKNOWN: manifest unknown`) from a failed answer's body. */
async function errorText(res: TransportResponse): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (text.length < 4096) text += chunk.toString('utf8');
    }
  } catch {
    return '';
  }
  try {
    const json = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = json.errors?.[0];
    if (first) return [first.code, first.message].filter((p) => typeof p === 'string' && p).join(': ');
  } catch {
    // Not the distribution spec's error JSON: fall through to a short plain excerpt.
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** REGISTRY_NOT_FOUND for `what` (a reference, a repository, a blob), with the registry's own words. */
export function notFoundError(ref: ImageReference, what: string, message: string): BargeError {
  return new BargeError('REGISTRY_NOT_FOUND', `${ref.registry} has no ${what} (${message})`, {
    hint: 'check the spelling of the repository and the tag; the tag list of the repository shows what exists',
    details: { registry: ref.registry, reference: formatImageReference(ref), message },
  });
}
