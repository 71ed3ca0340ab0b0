import { BargeError } from '../error/index.js';
import type { RequestContext } from '../server/index.js';
import { statusForError } from '../server/index.js';
import { sendBody } from '../server/respond.js';
import { authErrorHeaders } from '../usercode/authenticate.js';

/** Answers with JSON that no proxy or browser keeps (the dashboard's data changes with every publish). */
export function sendJson(
  ctx: RequestContext,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  sendBody(ctx, status, Buffer.from(`${JSON.stringify(value)}\n`), {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
}

/**
 * Answers an error as `{error: {code, message, hint}}`, the shape of the rest of /api/v1, with the
 * status of its code and the `WWW-Authenticate` a refused token needs. A server error says nothing
 * of its cause and is kept on the context for the request log.
 */
export function sendJsonError(ctx: RequestContext, err: unknown): void {
  const status = statusForError(err);
  if (status >= 500) ctx.error = err;
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  const body =
    status < 500 && err instanceof BargeError
      ? { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }
      : { code: 'INTERNAL', message: 'internal server error' };
  sendJson(ctx, status, { error: body }, authErrorHeaders(err));
}

/** Wraps a JSON handler so that a thrown error is answered as JSON. */
export function jsonRoute(
  run: (ctx: RequestContext) => void | Promise<void>,
): (ctx: RequestContext) => Promise<void> {
  return async (ctx) => {
    try {
      await run(ctx);
    } catch (err) {
      sendJsonError(ctx, err);
    }
  };
}

/** The request's id (set by the server from X-Request-Id), for log events of the request. */
export function requestIdOfContext(ctx: RequestContext): string | undefined {
  const id = ctx.res.getHeader('x-request-id');
  return typeof id === 'string' ? id : undefined;
}
