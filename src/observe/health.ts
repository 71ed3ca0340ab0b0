import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode, isBargeError } from '../error/index.js';
import type { RouteHandler } from '../server/index.js';
import { sendJson } from './json-response.js';
import { readFacts, repositoryNames } from './repository-facts.js';

/** What readiness depends on. */
export interface HealthOptions {
  dataDir: string;
  /** True once the server is shutting down: a load balancer should stop sending it requests. */
  draining: () => boolean;
}

/** GET/HEAD `/healthz`: the process answers HTTP (liveness). Reads nothing, so a slow disk cannot fail it. */
export function healthz(): RouteHandler {
  return (ctx) => sendJson(ctx, 200, { status: 'ok' });
}

/**
 * GET/HEAD `/readyz`: 200 when this server can serve its repositories, 503 otherwise: while it
 * drains at shutdown, when `<data>/repos` cannot be read, or when a repository's manifest cannot
 * be read or parsed. An expired or expiring whitelist is reported but does not fail readiness:
 * every server of the repository has the same files, and taking all of them out of a pool would
 * also stop the objects that clients with a cached whitelist still need.
 */
export function readyz(options: HealthOptions): RouteHandler {
  return async (ctx) => {
    const problems: string[] = [];
    const warnings: string[] = [];
    const repositories: Record<string, { revision: number; whitelistExpires?: string }> = {};
    if (options.draining()) problems.push('shutting down');
    try {
      await fsp.access(path.join(path.resolve(options.dataDir), 'repos'), fsp.constants.R_OK);
      for (const fqrn of await repositoryNames(options.dataDir)) {
        try {
          const facts = await readFacts(options.dataDir, fqrn);
          const expires = facts.whitelist?.expires;
          repositories[fqrn] = {
            revision: facts.manifest.revision,
            ...(expires ? { whitelistExpires: expires.toISOString() } : {}),
          };
          if (!expires) warnings.push(`${fqrn}: no readable whitelist`);
          else if (expires.getTime() <= Date.now()) warnings.push(`${fqrn}: the whitelist has expired`);
        } catch (err) {
          // Codes only: the answer may reach a load balancer's logs, paths and errno text should not.
          problems.push(`${fqrn}: ${isBargeError(err) ? err.code : (errnoCode(err) ?? 'unreadable')}`);
        }
      }
    } catch (err) {
      problems.push(`cannot read the repositories: ${errnoCode(err) ?? 'unreadable'}`);
    }
    sendJson(ctx, problems.length === 0 ? 200 : 503, {
      status: problems.length === 0 ? 'ready' : 'not ready',
      problems,
      warnings,
      repositories,
    });
  };
}
