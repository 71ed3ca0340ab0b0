import { createHash, createHmac } from 'node:crypto';

/** An access key pair (an S3 user's keys; the secret never leaves this process). */
export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** STS session token, sent as x-amz-security-token. */
  sessionToken?: string;
}

/** The parts of a request that AWS Signature Version 4 signs. */
export interface SigV4Request {
  method: string;
  /** The path as sent on the wire, already URI-encoded (uriEncode with slashes kept). */
  path: string;
  /** Query parameters, not encoded; an empty string for a bare name (`?delete`). */
  query?: Record<string, string>;
  /** Every header to sign, host and x-amz-date included; names in any case. */
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
}

/** Where a signature is valid: region and service (`s3`). */
export interface SigV4Scope {
  region: string;
  service: string;
}

/** The SHA-256 of an empty body, the payload hash of every GET, HEAD and DELETE. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const SAFE = /^[A-Za-z0-9\-_.~]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-_.~/]*$/;

/**
 * URI-encodes as SigV4 requires (AWS "UriEncode"): every byte but A-Z a-z 0-9 - _ . ~ becomes
 * %XX in upper case; `/` is kept when `keepSlash` (object key paths). encodeURIComponent lets
 * ! ' ( ) * through, which would sign a different string than the server computes.
 */
export function uriEncode(text: string, keepSlash = false): string {
  // Object keys (`data/ab/cd…`) need no escaping: skip the byte loop.
  if ((keepSlash ? SAFE_PATH : SAFE).test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The canonical query string: names and values encoded, sorted by encoded name then value. */
export function canonicalQuery(query: Record<string, string> = {}): string {
  return Object.entries(query)
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

let lastSecond = -1;
let lastStamp = '';

/** `20130524T000000Z`: the x-amz-date form of a time (formatted once per second: one per request cost 0.1 ms). */
export function amzDate(at: Date): string {
  const second = Math.floor(at.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastStamp = formatAmzDate(at);
  }
  return lastStamp;
}

function formatAmzDate(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** What signing produced; the intermediate strings are kept for tests and debugging. */
export interface SigV4Result {
  authorization: string;
  signature: string;
  signedHeaders: string;
  canonicalRequest: string;
  stringToSign: string;
}

/** Derived keys by secret, then day/region/service: four HMACs saved on every request. */
const signingKeys = new Map<string, Map<string, Buffer>>();

/**
 * Signs a request with AWS Signature Version 4 (header form), as the AWS General Reference
 * "Create a signed AWS API request" describes it: canonical request, string to sign over its
 * SHA-256, signing key derived from the secret by date, region and service. `amzDateText` must
 * be the request's x-amz-date header.
 */
export function signV4(
  request: SigV4Request,
  credentials: SigV4Credentials,
  scope: SigV4Scope,
  amzDateText: string,
): SigV4Result {
  const headers = Object.entries(request.headers)
    .map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signedHeaders = headers.map(([k]) => k).join(';');
  const canonicalRequest = [
    request.method,
    request.path,
    canonicalQuery(request.query),
    ...headers.map(([k, v]) => `${k}:${v}`),
    '',
    signedHeaders,
    request.payloadHash,
  ].join('\n');
  const day = amzDateText.slice(0, 8);
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDateText,
    credentialScope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, day, scope))
    .update(stringToSign)
    .digest('hex');
  return {
    authorization:
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${credentialScope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`,
    signature,
    signedHeaders,
    canonicalRequest,
    stringToSign,
  };
}

function signingKey(secret: string, day: string, scope: SigV4Scope): Buffer {
  // Keyed by the secret string itself (the same reference, not a copy of the text).
  let bySecret = signingKeys.get(secret);
  if (!bySecret) {
    if (signingKeys.size > 16) signingKeys.clear();
    bySecret = new Map();
    signingKeys.set(secret, bySecret);
  }
  const id = `${day}/${scope.region}/${scope.service}`;
  let key = bySecret.get(id);
  if (!key) {
    const hmac = (k: string | Buffer, data: string) => createHmac('sha256', k).update(data).digest();
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), scope.region), scope.service), 'aws4_request');
    if (bySecret.size > 16) bySecret.clear();
    bySecret.set(id, key);
  }
  return key;
}
