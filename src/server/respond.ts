import { BargeError } from '../error/index.js';
import { statusForError } from './error-status.js';
import type { RequestContext } from './router.js';

/** Headers every short text answer carries; errors of a repository path are cacheable briefly. */
const TEXT_HEADERS = {
  'Content-Type': 'text/plain; charset=utf-8',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * Answers with a complete body (JSON, a short text); HEAD gets the headers only. 4xx answers get
 * the 61 s of `.cvmfs*` files, as cvmfs_server's Apache gives a missing file: long enough to spare
 * the server a storm of misses through Squid, short enough that a new manifest shows up in time.
 * 5xx answers are never cached, or a proxy would pin a passing fault.
 */
export function sendBody(
  ctx: RequestContext,
  status: number,
  body: Buffer,
  headers: Record<string, string | number>,
): void {
  const { req, res } = ctx;
  const cache = status >= 500 ? 'no-store' : 'max-age=61';
  res.writeHead(status, { 'Cache-Control': cache, ...headers, 'Content-Length': body.length });
  if (req.method === 'HEAD') {
    res.end();
  } else {
    ctx.bytes = body.length;
    res.end(body);
  }
}

/** Answers with a short plain-text body. */
export function sendText(
  ctx: RequestContext,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  sendBody(ctx, status, Buffer.from(text), { ...TEXT_HEADERS, ...headers });
}

/**
 * Answers with the status of `err` (error-status.ts). A client error says what was wrong; a
 * server error says nothing of its cause (paths, errno) and is kept on the context for the log.
 * Once headers are out, the only honest signal left is to cut the connection.
 */
export function sendError(ctx: RequestContext, err: unknown): void {
  const status = statusForError(err);
  if (status >= 500) ctx.error = err;
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  const message = status < 500 && err instanceof BargeError ? err.message : 'internal server error';
  sendText(ctx, status, `${message}\n`);
}
