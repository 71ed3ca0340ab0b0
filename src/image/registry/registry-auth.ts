import { BargeError } from '../../error/index.js';
import type { CredentialStore, RegistryCredentials } from './credentials.js';
import { isObject } from './image-manifest.js';
import { isLoopback } from './proxy-for.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

/** A small answer with its body read, as the token endpoint gives it. */
export interface SmallResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Fetches a token endpoint URL (retries included); sends `authorization` to that URL only. */
export type TokenFetcher = (url: URL, authorization: string | undefined) => Promise<SmallResponse>;

/** What a request is about, for the registry's state and for error messages. */
export interface AuthTarget {
  registry: string;
  /** The scheme the registry is spoken to with. */
  protocol: 'http:' | 'https:';
  /** `repository:<name>:pull`, or '' for requests outside a repository. */
  scope: string;
  /** The reference or repository, as users wrote it, for messages. */
  what: string;
}

type Scheme = { type: 'basic' } | { type: 'bearer'; realm: string; service: string | undefined };

interface CachedToken {
  value: string;
  expiresAt: number;
}

// The token spec's default and minimum lifetime (docs/spec/auth/token.md): 60 seconds.
const DEFAULT_TOKEN_SECONDS = 60;
// A token is renewed this long before it expires, so it does not lapse in flight.
const TOKEN_MARGIN_MS = 10_000;

/**
 * Authorisation of registry requests. It learns from the first 401 of each registry which scheme
 * it wants: Basic (credentials sent as they are) or Bearer, the token flow of the Docker token spec
 * that Docker Hub, GitLab, Harbor and ghcr follow (GET <realm>?service=…&scope=… with Basic
 * credentials if there are any, then `Authorization: Bearer <token>`). Tokens are cached per
 * registry and scope until shortly before they expire; parallel requests share one token fetch.
 */
export class RegistryAuth {
  private readonly credentials: CredentialStore;
  private readonly fetchToken: TokenFetcher;
  private readonly schemes = new Map<string, Scheme>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(credentials: CredentialStore, fetchToken: TokenFetcher) {
    this.credentials = credentials;
    this.fetchToken = fetchToken;
  }

  /** The Authorization header for a request, from what earlier challenges taught (may fetch a token). */
  async authorization(target: AuthTarget): Promise<string | undefined> {
    const scheme = this.schemes.get(target.registry);
    if (scheme === undefined) return undefined;
    if (scheme.type === 'basic') {
      const creds = this.credentials.lookup(target.registry);
      return creds ? basic(creds) : undefined;
    }
    const token = await this.token(target, scheme, false);
    return `Bearer ${token.value}`;
  }

  /**
   * Learns from a 401's WWW-Authenticate and prepares what the retry sends. Throws
   * REGISTRY_UNAUTHORIZED when no retry can succeed (Basic wanted and no credentials).
   */
  async challenge(target: AuthTarget, header: string | undefined): Promise<void> {
    const challenges = parseWwwAuthenticate(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const scheme: Scheme = {
        type: 'bearer',
        realm: bearer.params.realm ?? '',
        service: bearer.params.service,
      };
      this.schemes.set(target.registry, scheme);
      await this.token(target, scheme, true);
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      this.schemes.set(target.registry, { type: 'basic' });
      if (!this.credentials.lookup(target.registry))
        throw this.unauthorized(target, 'it asks for a user name and password');
      return;
    }
    throw new BargeError(
      'REGISTRY_UNAUTHORIZED',
      `${target.registry} refused ${target.what} with a challenge barge does not speak: ${header ?? '(no WWW-Authenticate)'}`,
      {
        hint: 'barge speaks Basic and Bearer (token) authentication, as docker does',
        details: { registry: target.registry },
      },
    );
  }

  /** The error for a request refused although barge sent what the registry asked for. */
  unauthorized(target: AuthTarget, why: string, status = 401): BargeError {
    const creds = this.credentials.lookup(target.registry);
    const as = creds ? `as user ${creds.username}` : 'anonymously';
    return new BargeError(
      'REGISTRY_UNAUTHORIZED',
      `${target.registry} refused access to ${target.what} ${as}: ${why}`,
      {
        hint: creds
          ? 'check the user name, password or token, and that this user may pull the repository'
          : `check the name (registries answer 401 for repositories that do not exist), or give credentials in ${this.credentials.sources(target.registry)}`,
        details: { registry: target.registry, status, user: creds?.username },
      },
    );
  }

  private async token(
    target: AuthTarget,
    scheme: Scheme & { type: 'bearer' },
    renew: boolean,
  ): Promise<CachedToken> {
    const key = `${target.registry} ${target.scope}`;
    const cached = this.tokens.get(key);
    if (cached && !renew && cached.expiresAt > Date.now()) return cached;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.requestToken(target, scheme).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const token = await pending;
    this.tokens.set(key, token);
    return token;
  }

  private async requestToken(target: AuthTarget, scheme: Scheme & { type: 'bearer' }): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(scheme.realm);
    } catch {
      url = new URL('invalid:');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw protocolError(target, `its token realm '${scheme.realm}' is not an http(s) URL`);
    }
    if (scheme.service) url.searchParams.set('service', scheme.service);
    if (target.scope) url.searchParams.append('scope', target.scope);
    const creds = this.credentials.lookup(target.registry);
    // Credentials never travel in clear text to a remote realm when the registry itself is https.
    if (creds && url.protocol === 'http:' && target.protocol === 'https:' && !isLoopback(url.hostname)) {
      throw new BargeError(
        'REGISTRY_UNAUTHORIZED',
        `${target.registry} sends barge for a token to ${url.origin}, over plain http; barge will not send credentials there`,
        {
          hint: 'the registry is misconfigured (its token realm should be https); tell its operator',
          details: { registry: target.registry, realm: url.origin },
        },
      );
    }
    const started = Date.now();
    const res = await this.fetchToken(url, creds ? basic(creds) : undefined);
    if (res.status === 401 || res.status === 403) {
      throw this.unauthorized(target, `its token service ${url.origin} answered ${res.status}`, res.status);
    }
    if (res.status !== 200) {
      throw protocolError(target, `its token service ${url.origin} answered HTTP ${res.status}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw protocolError(target, `its token service ${url.origin} did not answer JSON`);
    }
    const value = isObject(json) ? (json.token ?? json.access_token) : undefined;
    if (typeof value !== 'string' || value === '') {
      throw protocolError(target, `its token service ${url.origin} answered without a token`);
    }
    const seconds =
      isObject(json) && typeof json.expires_in === 'number' && json.expires_in > 0
        ? json.expires_in
        : DEFAULT_TOKEN_SECONDS;
    // Local time from before the request, not issued_at: no trust in either clock being right.
    return { value, expiresAt: started + seconds * 1000 - TOKEN_MARGIN_MS };
  }
}

function basic(creds: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

function protocolError(target: AuthTarget, why: string): BargeError {
  return new BargeError('REGISTRY_PROTOCOL_ERROR', `${target.registry} (for ${target.what}): ${why}`, {
    hint: 'the registry or its token service misbehaves; try again later or tell its operator',
    details: { registry: target.registry },
  });
}
