import { BargeError } from '../error/index.js';
import { addImage } from '../image/image-catalog.js';
import { RegistryClient } from '../image/registry/index.js';
import { statusForError } from '../server/error-status.js';
import { sendBody, sendText } from '../server/respond.js';
import type { RequestContext, Router } from '../server/router.js';
import { authErrorHeaders, authenticate } from './authenticate.js';
import { type AccessRequest, authorize } from './token-authorize.js';
import type { TokenInfo, TokenStore } from './token-store.js';
import { parseUploadId, type UploadId } from './upload-id.js';
import type { UploadService } from './upload-service.js';
import type { UploadRecord } from './uploads-db.js';

/** What the API needs. */
export interface UploadApi {
  service: UploadService;
  tokens: TokenStore;
  /** Registry client for user containers (POST /api/v1/images); default one with env credentials. */
  registry?: RegistryClient;
}

const ANY = ['GET', 'HEAD', 'POST', 'PUT'] as const;

/**
 * Adds the user code API to the server's routes:
 *
 * - `/pubapi/{exists,update,publish,config,ping}`: cvmfs-user-pub's protocol (docs/
 *   cvmfs-user-pub-protocol.md), so jobsub_lite and justIN work unchanged: one-line text answers
 *   ending in `\n`, 200 for every logical answer (MISSING too: clients retry on any 4xx/5xx), any
 *   method, the body never parsed as a form, `//pubapi/` as `/pubapi/`. Unlike cvmfs-user-pub,
 *   `publish` answers only once the upload is in a signed revision, so `OK` means visible.
 * - `/api/v1/...`: the same as JSON, plus a group's listing, pins (admin) and user containers.
 *
 * Every request but config and ping needs a bearer token (401 without a valid one, 403 with one
 * that does not cover the group).
 */
export function addUploadRoutes(router: Router, api: UploadApi): Router {
  for (const prefix of ['/pubapi', '//pubapi']) {
    router.on(ANY, `${prefix}/:op`, (ctx) => pubapi(ctx, api));
  }
  return router
    .on(['GET', 'HEAD'], '/api/v1/config', (ctx) =>
      sendJson(ctx, 200, { repositories: api.service.repositories() }),
    )
    .on(['GET', 'HEAD'], '/api/v1/uploads/:group', (ctx) =>
      guarded(ctx, api, () => {
        const group = decodeURIComponent(ctx.params.group ?? '');
        check(api, ctx, { group, need: 'publish' });
        sendJson(ctx, 200, { group, uploads: api.service.listGroup(group).map(describe) });
      }),
    )
    .on(['GET', 'HEAD'], '/api/v1/uploads/:group/:digest', (ctx) =>
      guarded(ctx, api, () => {
        const id = idOf(ctx);
        check(api, ctx, { group: id.group, need: 'publish' });
        const found = api.service.exists(id, true);
        if (!found.present) throw new BargeError('UPLOAD_NOT_FOUND', `no upload ${id.cid} is published here`);
        sendJson(ctx, 200, { ...describe({ ...found.record, fqrn: found.fqrn }), cvmfsPath: found.path });
      }),
    )
    .on(['PUT', 'POST'], '/api/v1/uploads/:group/:digest', (ctx) =>
      guarded(ctx, api, async () => {
        const id = idOf(ctx);
        const token = check(api, ctx, { group: id.group, need: 'publish' });
        const done = await api.service.publish(id, ctx.req, token.id);
        sendJson(ctx, done.status === 'published' ? 201 : 200, {
          status: done.status,
          ...describe({ ...done.record, fqrn: done.fqrn }),
          cvmfsPath: done.path,
        });
      }),
    )
    .on(['PUT', 'DELETE'], '/api/v1/uploads/:group/:digest/pin', (ctx) =>
      guarded(ctx, api, () => {
        const id = idOf(ctx);
        check(api, ctx, { group: id.group, need: 'admin' });
        const record = api.service.setPinned(id, ctx.req.method === 'PUT');
        sendJson(ctx, 200, describe({ ...record, fqrn: '' }));
      }),
    )
    .on(['POST'], '/api/v1/images', (ctx) => guarded(ctx, api, () => postImage(ctx, api)));
}

/** One /pubapi/ request. */
async function pubapi(ctx: RequestContext, api: UploadApi): Promise<void> {
  const op = ctx.params.op ?? '';
  const text = (status: number, body: string, headers: Record<string, string> = {}) =>
    sendText(ctx, status, body, { 'Cache-Control': 'max-age=0', ...headers });
  if (op === 'ping') return text(200, 'OK\n');
  if (op === 'config') return text(200, `repos:${api.service.repositories().join(',')}\n`);
  if (op !== 'exists' && op !== 'update' && op !== 'publish') return text(404, 'Unrecognized api\n');
  let token: TokenInfo;
  let id: UploadId;
  try {
    token = authenticate(api.tokens, ctx.req.headers);
    id = parseUploadId(new URL(ctx.req.url ?? '/', 'http://x').searchParams.get('cid'));
    authorize(token, { group: id.group, need: 'publish' });
  } catch (err) {
    return refuse(ctx, err, (status, message, headers) => text(status, message, headers));
  }
  try {
    if (op === 'publish') {
      const done = await api.service.publish(id, ctx.req, token.id);
      return text(200, done.status === 'published' ? 'OK\n' : `PRESENT:${done.path}\n`);
    }
    // exists refreshes the expiry clock too: a job that checks for its code is using it.
    const found = api.service.exists(id, true);
    return text(200, found.present ? `PRESENT:${found.path}\n` : 'MISSING\n');
  } catch (err) {
    return refuse(ctx, err, (status, message, headers) => text(status, message, headers));
  }
}

/** A user container: an image built on an experiment base, through the image pipeline. */
async function postImage(ctx: RequestContext, api: UploadApi): Promise<void> {
  const token = check(api, ctx, { group: undefined, need: 'publish', anyGroup: true });
  const body = await readJson(ctx, 64 * 1024);
  const image = typeof body.image === 'string' ? body.image : '';
  // Registry references only: oci: and docker-archive: would read files of the server.
  if (!image || /^(oci|docker-archive|dir|containers-storage):/.test(image)) {
    throw new BargeError(
      'INVALID_ARGUMENT',
      'image must be a registry reference, e.g. registry.example.org/user/ana:v1',
    );
  }
  const repos = api.service.repositories();
  const fqrn = typeof body.repository === 'string' ? body.repository : repos[0];
  if (!fqrn || !repos.includes(fqrn)) {
    throw new BargeError('REPO_NOT_FOUND', `repository ${fqrn ?? '(none)'} takes no uploads here`);
  }
  if (token.repository && token.repository !== fqrn) {
    throw new BargeError('FORBIDDEN', `this token may not publish into ${fqrn}`);
  }
  const client = api.registry ?? new RegistryClient();
  const platform = typeof body.platform === 'string' ? body.platform : undefined;
  const result = await api.service
    .queue(fqrn)
    .exclusive((publisher) => addImage(publisher, image, { client, ...(platform ? { platform } : {}) }));
  sendJson(ctx, result.status === 'published' ? 201 : 200, {
    repository: fqrn,
    reference: result.reference,
    status: result.status,
    revision: result.revision,
    addedBytes: result.bytesWritten ?? 0,
    root: result.image?.root,
    reused: result.image?.reused,
    baseLayers: result.image?.baseLayers,
    files: result.image?.flatten?.files,
    bytes: result.image?.flatten?.bytes,
    seconds: result.seconds,
  });
}

/** Authenticates and authorizes; throws the BargeError to answer with. */
function check(
  api: UploadApi,
  ctx: RequestContext,
  request: Omit<AccessRequest, 'group'> & { group: string | undefined; anyGroup?: boolean },
): TokenInfo {
  const token = authenticate(api.tokens, ctx.req.headers);
  // "Any group" requests (a user container) need a token of some group with the scope.
  const group = request.anyGroup && token.group !== '*' ? token.group : request.group;
  authorize(token, { need: request.need, ...(group ? { group } : {}) });
  return token;
}

function idOf(ctx: RequestContext): UploadId {
  return parseUploadId(
    `${decodeURIComponent(ctx.params.group ?? '')}/${decodeURIComponent(ctx.params.digest ?? '')}`,
  );
}

/** Runs a JSON handler, answering a thrown error as `{error: {code, message, hint}}`. */
async function guarded(ctx: RequestContext, _api: UploadApi, run: () => void | Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    refuse(ctx, err, (status, _message, headers) =>
      sendJson(ctx, status, { error: errorBody(err, status) }, headers),
    );
  }
}

/**
 * Answers an error: its status, the auth headers a 401 needs, and `Connection: close` when the
 * request body was not read to its end (a refused upload is not drained: it may be a bomb).
 */
function refuse(
  ctx: RequestContext,
  err: unknown,
  send: (status: number, message: string, headers: Record<string, string>) => void,
): void {
  const status = statusForError(err);
  if (status >= 500) ctx.error = err;
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  const headers: Record<string, string> = { ...authErrorHeaders(err) };
  if (!ctx.req.complete) headers.Connection = 'close';
  // A retryable collision with gc (or a writer holding the repository) says so, not "internal".
  const retryable =
    err instanceof BargeError && (err.code === 'OBJECT_COLLECTED' || err.code === 'REPO_LOCKED');
  if (retryable) headers['Retry-After'] = '1';
  const message =
    (status < 500 || retryable) && err instanceof BargeError ? err.message : 'internal server error';
  send(status, `${message}\n`, headers);
}

function errorBody(err: unknown, status: number): { code: string; message: string; hint?: string } {
  const retryable =
    err instanceof BargeError && (err.code === 'OBJECT_COLLECTED' || err.code === 'REPO_LOCKED');
  if ((status < 500 || retryable) && err instanceof BargeError) {
    return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  }
  return { code: 'INTERNAL', message: 'internal server error' };
}

function sendJson(
  ctx: RequestContext,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  sendBody(ctx, status, Buffer.from(`${JSON.stringify(value)}\n`), {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
}

/** The JSON shape of an upload. */
function describe(u: UploadRecord & { fqrn: string }) {
  return {
    cid: u.cid,
    group: u.group,
    repository: u.fqrn || undefined,
    path: u.path,
    files: u.files,
    bytes: u.bytes,
    tarballBytes: u.tarballBytes,
    addedBytes: u.addedBytes,
    revision: u.revision,
    created: new Date(u.createdAt * 1000).toISOString(),
    lastUsed: new Date(u.lastUsedAt * 1000).toISOString(),
    pinned: u.pinned,
  };
}

async function readJson(ctx: RequestContext, limit: number): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BargeError('INVALID_ARGUMENT', `the request body is over ${limit} bytes`);
    parts.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(parts).toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new BargeError('INVALID_ARGUMENT', 'the request body must be a JSON object');
}
