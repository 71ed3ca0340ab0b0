import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * What a caller's X-Request-Id may hold to be kept: what proxies and tracers generate (UUIDs,
 * hex, base64), nothing that could split a header or a log line.
 */
const ACCEPTED = /^[A-Za-z0-9._:/+=@-]{1,128}$/;

/** The id of a request: the caller's `X-Request-Id` when it is a sane token, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && ACCEPTED.test(given) ? given : randomUUID();
}
