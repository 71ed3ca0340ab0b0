import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { BargeError, errnoCode } from '../error/index.js';
import { xmlValue } from './s3-xml.js';
import { amzDate, canonicalQuery, EMPTY_SHA256, type SigV4Credentials, signV4, uriEncode } from './sigv4.js';

/** Where and as whom an S3Client talks. */
export interface S3ClientOptions {
  /** `http(s)://host[:port][/path]` of an S3-compatible server (Ceph RGW, MinIO, AWS). */
  endpoint: string;
  bucket: string;
  /** Signing region (RGW and MinIO accept any; AWS wants the bucket's). Default us-east-1. */
  region?: string;
  /** Unsigned (anonymous) requests without. */
  credentials?: SigV4Credentials;
  /** Connections kept to the server, which bounds the requests in flight (default 32). */
  maxSockets?: number;
  /** Tries per request, the first included, on throttling, 5xx and dropped connections (default 6). */
  attempts?: number;
  /** A request that sends or receives nothing for this long is dropped and retried (default 60 s). */
  timeoutMs?: number;
}

/** One request: a bucket operation when `key` is undefined, else an object operation. */
export interface S3Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** The object key in the bucket, unencoded. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses that are answers, not failures (default 200). */
  ok?: readonly number[];
}

/** A buffered answer. */
export interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const RETRY_STATUS = new Set([500, 502, 503, 504, 429]);
/** S3 error codes worth another try; ConditionalRequestConflict is AWS's answer to racing conditional puts. */
const RETRY_CODES = new Set([
  'SlowDown',
  'RequestTimeout',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict',
]);
const RETRY_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * The HTTP layer of the S3 store: path-style URLs (`endpoint/bucket/key`, what RGW and MinIO
 * serve without wildcard DNS), AWS Signature V4 with the payload's SHA-256 signed (the server
 * checks the body it received), keep-alive connections, and retries with exponential backoff and
 * jitter on throttling, 5xx and dropped connections. Bodies are whole buffers, so a retry resends
 * the same bytes. Messages name the method, bucket, key and S3 error code, never a credential.
 */
export class S3Client {
  readonly endpoint: URL;
  readonly bucket: string;
  private readonly region: string;
  private readonly credentials: SigV4Credentials | undefined;
  private readonly agent: http.Agent;
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly basePath: string;
  private readonly host: string;

  constructor(options: S3ClientOptions) {
    this.endpoint = new URL(options.endpoint);
    if (this.endpoint.protocol !== 'http:' && this.endpoint.protocol !== 'https:') {
      throw new BargeError('INVALID_ARGUMENT', `S3 endpoint ${options.endpoint} is not an http(s) URL`);
    }
    this.bucket = options.bucket;
    this.region = options.region ?? 'us-east-1';
    this.credentials = options.credentials;
    this.attempts = Math.max(1, options.attempts ?? 6);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.basePath = this.endpoint.pathname.replace(/\/+$/, '');
    this.host = this.endpoint.host;
    const maxSockets = options.maxSockets ?? 32;
    const agentOptions = {
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      scheduling: 'lifo' as const,
    };
    this.agent =
      this.endpoint.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** `endpoint/bucket/key`, for messages and for clients reading the bucket directly. */
  url(key = ''): string {
    return `${this.endpoint.origin}${this.basePath}/${this.bucket}/${uriEncode(key, true)}`;
  }

  /** Sends a request and reads the whole answer; retries what is worth retrying. */
  async send(request: S3Request): Promise<S3Response> {
    const answer = await this.retrying(request, async () => ({
      response: await readAll(await this.exchange(request)),
    }));
    return answer.response;
  }

  /**
   * Sends a request and resolves with the answer's body still streaming (a GET being proxied);
   * retried only until an accepted status arrives. The caller must consume or destroy it.
   */
  async open(request: S3Request): Promise<http.IncomingMessage> {
    const ok = request.ok ?? [200];
    const answer = await this.retrying(request, async () => {
      const res = await this.exchange(request);
      return ok.includes(res.statusCode ?? 0) ? { stream: res } : { response: await readAll(res) };
    });
    return (answer as { stream: http.IncomingMessage }).stream;
  }

  /** Closes the idle connections. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * Runs `attempt` until it yields a stream or an accepted buffered answer; dropped connections,
   * throttling and 5xx are tried again after a backoff, anything else fails at once.
   */
  private async retrying<T extends { response: S3Response } | { stream: http.IncomingMessage }>(
    request: S3Request,
    attempt: () => Promise<T>,
  ): Promise<T> {
    const ok = request.ok ?? [200];
    let last: S3Response | undefined;
    let lastError: unknown;
    for (let i = 0; i < this.attempts; i++) {
      if (i > 0) await sleep(backoffMs(i));
      let answer: T;
      try {
        answer = await attempt();
      } catch (err) {
        if (!RETRY_ERRNO.has(errnoCode(err) ?? '')) throw this.failure(request, undefined, err);
        lastError = err;
        continue;
      }
      if (!('response' in answer)) return answer;
      const r = answer.response;
      if (ok.includes(r.status)) return answer;
      const code = xmlValue(r.body.toString('utf8'), 'Code');
      if (!RETRY_STATUS.has(r.status) && !(code && RETRY_CODES.has(code))) throw this.failure(request, r);
      last = r;
      lastError = undefined;
    }
    throw this.failure(request, lastError === undefined ? last : undefined, lastError);
  }

  /** One HTTP exchange: signed headers, body sent, resolves when the answer's headers arrive. */
  private exchange(request: S3Request): Promise<http.IncomingMessage> {
    const body = request.body ?? Buffer.alloc(0);
    const path = `${this.basePath}/${this.bucket}${request.key === undefined ? '' : `/${uriEncode(request.key, true)}`}`;
    const headers: Record<string, string> = { ...request.headers, host: this.host };
    if (this.credentials) {
      const payloadHash = body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(body).digest('hex');
      const date = amzDate(new Date());
      headers['x-amz-date'] = date;
      headers['x-amz-content-sha256'] = payloadHash;
      if (this.credentials.sessionToken) headers['x-amz-security-token'] = this.credentials.sessionToken;
      const signed = signV4(
        { method: request.method, path, query: request.query ?? {}, headers, payloadHash },
        this.credentials,
        { region: this.region, service: 's3' },
        date,
      );
      headers.authorization = signed.authorization;
    }
    if (body.length > 0 || request.method === 'PUT' || request.method === 'POST') {
      headers['content-length'] = String(body.length);
    }
    const query = canonicalQuery(request.query);
    return new Promise((resolve, reject) => {
      const req = (this.endpoint.protocol === 'https:' ? https : http).request({
        protocol: this.endpoint.protocol,
        hostname: this.endpoint.hostname,
        port: this.endpoint.port || undefined,
        method: request.method,
        path: query ? `${path}?${query}` : path,
        headers,
        agent: this.agent,
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      req.once('error', reject);
      req.once('response', (res) => {
        res.once('error', () => {});
        resolve(res);
      });
      req.end(body.length > 0 ? body : undefined);
    });
  }

  /** The BargeError for a failed request: its S3 error code decides which. */
  private failure(request: S3Request, res?: S3Response, cause?: unknown): BargeError {
    const what = `${request.method} ${this.url(request.key ?? '')}`;
    if (!res) {
      return new BargeError(
        'STORAGE_UNAVAILABLE',
        `${what} failed: ${(cause as Error)?.message ?? 'no answer'}`,
        {
          cause,
          hint: `check that the S3 endpoint ${this.endpoint.origin} is up and reachable; nothing was lost, retry`,
        },
      );
    }
    const text = res.body.toString('utf8');
    const code = xmlValue(text, 'Code');
    const message = xmlValue(text, 'Message');
    const said = `${what} answered ${res.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
    if (code === 'NoSuchBucket') {
      return new BargeError('STORAGE_BUCKET_NOT_FOUND', `bucket ${this.bucket} does not exist (${said})`, {
        hint: 'create the bucket, or fix the bucket name in the repository configuration',
      });
    }
    if (res.status === 401 || res.status === 403) {
      return new BargeError('STORAGE_DENIED', said, {
        hint: this.credentials
          ? 'check the S3 access key and secret (BARGE_S3_ACCESS_KEY, BARGE_S3_SECRET_KEY) and what the user may do in this bucket'
          : 'no S3 credentials were found: set BARGE_S3_ACCESS_KEY and BARGE_S3_SECRET_KEY (or the configured credentials file)',
      });
    }
    if (RETRY_STATUS.has(res.status) || (code && RETRY_CODES.has(code))) {
      return new BargeError('STORAGE_UNAVAILABLE', `${said} (after ${this.attempts} tries)`, {
        hint: 'the S3 server is overloaded or failing; retry later (the last good revision is still served)',
      });
    }
    return new BargeError('STORAGE_PROTOCOL_ERROR', said);
  }
}

async function readAll(res: http.IncomingMessage): Promise<S3Response> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

/** 100 ms, 200 ms, 400 ms… capped at 5 s, with full jitter so that parallel uploads spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(5000, 100 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
