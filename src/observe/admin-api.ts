import { BargeError } from '../error/index.js';
import type { RequestContext, Router } from '../server/index.js';
import { authenticate } from '../usercode/authenticate.js';
import { authorize } from '../usercode/token-authorize.js';
import type { TokenInfo, TokenStore } from '../usercode/token-store.js';
import type { JsonLog } from './json-log.js';
import { jsonRoute, requestIdOfContext, sendJson } from './json-response.js';
import { readFacts } from './repository-facts.js';

/** What the admin actions need. */
export interface AdminApiOptions {
  dataDir: string;
  /** The token store, opened on first use (a server without tokens never creates the file). */
  tokens: () => TokenStore;
  log: JsonLog;
}

/**
 * The dashboard's admin actions, each refused (401/403) without an admin token for all groups
 * (`barge token create --group '*' --scope admin`, optionally bound to the repository):
 *
 * - `DELETE /api/v1/ui/repositories/<fqrn>/images?reference=<registry/repo:tag>`: removes an image
 *   name in one revision, as `barge images rm`; its files go at the next gc.
 * - `POST /api/v1/ui/repositories/<fqrn>/gc`: a gc dry run, as `barge gc --dry-run`: what would
 *   go, nothing changed. A real gc stays a CLI decision.
 *
 * Pinning an upload uses the user code API's own route (`PUT|DELETE /api/v1/uploads/<cid>/pin`).
 */
export function addAdminRoutes(router: Router, options: AdminApiOptions): Router {
  const { dataDir, log } = options;
  return router
    .on(
      ['DELETE'],
      '/api/v1/ui/repositories/:fqrn/images',
      jsonRoute(async (ctx) => {
        const { fqrn, token } = await admit(ctx, options);
        const reference = new URL(ctx.req.url ?? '/', 'http://x').searchParams.get('reference') ?? '';
        if (!reference)
          throw new BargeError('INVALID_ARGUMENT', 'name the image: ?reference=<registry/repo:tag>');
        const [{ CommitQueue }, { removeImage }] = await Promise.all([
          import('../usercode/commit-queue.js'),
          import('../image/index.js'),
        ]);
        // Through a queue of its own: it waits out the upload queue and CLI writers for the lock.
        const queue = new CommitQueue({ dataDir, fqrn });
        try {
          const result = await queue.exclusive((publisher) => removeImage(publisher, reference));
          log.info('admin.image_removed', {
            requestId: requestIdOfContext(ctx),
            repository: fqrn,
            reference,
            revision: result.revision,
            token: token.id,
          });
          sendJson(ctx, 200, { repository: fqrn, removed: reference, revision: result.revision });
        } finally {
          await queue.close();
        }
      }),
    )
    .on(
      ['POST'],
      '/api/v1/ui/repositories/:fqrn/gc',
      jsonRoute(async (ctx) => {
        const { fqrn, token } = await admit(ctx, options);
        const { collectGarbage } = await import('../gc/gc.js');
        const report = await collectGarbage({ dataDir, fqrn, dryRun: true });
        log.info('admin.gc_dry_run', {
          requestId: requestIdOfContext(ctx),
          repository: fqrn,
          token: token.id,
          revisionsDropped: report.revisionsDropped.length,
          catalogs: report.catalogsDeleted,
          objects: report.objectsDeleted,
          bytes: report.bytesFreed,
          seconds: Number(report.seconds.toFixed(3)),
        });
        sendJson(ctx, 200, report);
      }),
    );
}

/** The repository and the admin token of a request; the TOKEN_* or FORBIDDEN error to answer otherwise. */
async function admit(
  ctx: RequestContext,
  options: AdminApiOptions,
): Promise<{ fqrn: string; token: TokenInfo }> {
  const fqrn = ctx.params.fqrn ?? '';
  let token: TokenInfo;
  try {
    token = authenticate(options.tokens(), ctx.req.headers);
    authorize(token, { need: 'admin', repository: fqrn });
  } catch (err) {
    options.log.warn('admin.refused', {
      requestId: requestIdOfContext(ctx),
      repository: fqrn,
      path: ctx.path,
      code: (err as BargeError).code,
    });
    throw err;
  }
  await readFacts(options.dataDir, fqrn);
  return { fqrn, token };
}
