import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError, sendText } from './respond.js';

/** What a route handler gets: the request, the response, the matched parameters. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request path without query string, not yet percent-decoded. */
  readonly path: string;
  /** `:name` captures and `*` (the rest), raw as in the path; set by the router. */
  params: Record<string, string>;
  /** Body bytes handed to the socket; responders keep it up to date for the request log. */
  bytes: number;
  /** The error behind a 5xx answer, for the request log. */
  error?: unknown;
}

/** A route handler; it answers through `ctx.res` and may throw a BargeError to answer with its status. */
export type RouteHandler = (ctx: RequestContext) => void | Promise<void>;

interface Route {
  methods: readonly string[];
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

/**
 * The server's own tiny router: patterns like `/cvmfs/:fqrn/*` compiled to one RegExp each, tried
 * in order. A path that matches with another method answers 405 with `Allow`, one that matches
 * nothing answers 404. A framework would bring more than the three or four route groups barge has.
 */
export class Router {
  private readonly routes: Route[] = [];

  /** Adds a route; earlier routes win. `:name` matches one path segment, a trailing `*` the rest. */
  on(methods: readonly string[], pattern: string, handler: RouteHandler): this {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((part, i, parts) => {
        if (part.startsWith(':')) {
          names.push(part.slice(1));
          return '([^/]+)';
        }
        if (part === '*' && i === parts.length - 1) {
          names.push('*');
          return '(.*)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ methods, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Answers one request; never rejects (failures become error responses). */
  async handle(ctx: RequestContext): Promise<void> {
    const method = ctx.req.method ?? 'GET';
    let allowed: string[] | undefined;
    for (const route of this.routes) {
      const match = route.pattern.exec(ctx.path);
      if (!match) continue;
      if (!route.methods.includes(method)) {
        allowed = [...(allowed ?? []), ...route.methods];
        continue;
      }
      route.names.forEach((name, i) => {
        ctx.params[name] = match[i + 1] ?? '';
      });
      try {
        await route.handler(ctx);
      } catch (err) {
        sendError(ctx, err);
      }
      return;
    }
    if (allowed) sendText(ctx, 405, 'method not allowed\n', { Allow: [...new Set(allowed)].join(', ') });
    else sendText(ctx, 404, 'not found\n');
  }
}
