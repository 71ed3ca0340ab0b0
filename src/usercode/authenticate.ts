import type { IncomingHttpHeaders } from 'node:http';
import { isBargeError } from '../error/index.js';
import type { TokenInfo, TokenStore } from './token-store.js';

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 7235
 * §2.1); undefined when there is no such header or it names another scheme, so the request
 * counts as carrying no token (TOKEN_MISSING). Whatever follows `Bearer` is returned as is:
 * verify calls anything but a barge token TOKEN_INVALID.
 */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const m = /^\s*(\S+)\s*(.*?)\s*$/s.exec(headers.authorization ?? '');
  return m?.[1]?.toLowerCase() === 'bearer' ? m[2] : undefined;
}

/** Verifies the request's bearer token: its TokenInfo, or a TOKEN_* error (401). */
export function authenticate(store: TokenStore, headers: IncomingHttpHeaders, now?: Date): TokenInfo {
  return store.verify(bearerToken(headers), now);
}

/** The RFC 6750 §3.1 error and a fixed description of each failure that has them. */
const CHALLENGE: Record<string, string> = {
  TOKEN_INVALID: 'error="invalid_token", error_description="the token is not valid"',
  TOKEN_EXPIRED: 'error="invalid_token", error_description="the token expired"',
  TOKEN_REVOKED: 'error="invalid_token", error_description="the token was revoked"',
  FORBIDDEN:
    'error="insufficient_scope", error_description="the token does not cover this group or repository"',
};

/**
 * The headers an answer to an authentication or authorization failure adds to its status
 * (statusForError: TOKEN_* 401, FORBIDDEN 403); none for other errors. `WWW-Authenticate` as
 * RFC 6750 §3 has it: no error attribute when no token was sent, `invalid_token` for a bad one,
 * `insufficient_scope` for a token of another group. `no-store`, because barge's 4xx answers are
 * otherwise cacheable for 61 s and a proxy must not replay a refusal to the next client.
 */
export function authErrorHeaders(err: unknown): Record<string, string> {
  if (!isBargeError(err)) return {};
  const challenge = err.code === 'TOKEN_MISSING' ? '' : CHALLENGE[err.code];
  if (challenge === undefined) return {};
  return {
    'WWW-Authenticate': challenge === '' ? 'Bearer realm="barge"' : `Bearer realm="barge", ${challenge}`,
    'Cache-Control': 'no-store',
  };
}
