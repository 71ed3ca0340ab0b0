import { existsSync } from 'node:fs';
import path from 'node:path';
import { BargeError } from '../error/index.js';
import { RepositoryReader, repositoryPaths, storeSource } from '../repository/index.js';
import type { RequestContext, Router } from '../server/index.js';
import { UploadsDb } from '../usercode/uploads-db.js';
import { browsePath, listDirectory } from './file-listing.js';
import { listImageViews } from './image-records.js';
import { jsonRoute, sendJson } from './json-response.js';
import { type LedgerFacts, readFacts, readLedger, repositoryNames } from './repository-facts.js';
import { openServedStore } from './repository-store.js';
import type { StatsSampler } from './stats-sampler.js';

/** The dashboard warns this long before a whitelist expires (barge init signs one for 30 days). */
export const WHITELIST_WARNING_DAYS = 7;

/** What the dashboard's data routes read. */
export interface UiApiOptions {
  dataDir: string;
  sampler: StatsSampler;
}

/** A revision the file browser can open: the current one, a tag, or one the ledger still keeps. */
export interface BrowsableRoot {
  kind: 'current' | 'tag' | 'revision';
  name: string;
  revision: number;
  hash: string;
  timestamp: string;
}

const GET = ['GET', 'HEAD'];

/**
 * The dashboard's JSON under `/api/v1/ui/`, read-only and open like the repositories themselves
 * (everything shown is public in the served files, or counts of them; upload ids are not secret,
 * their tarballs are served). Each route reads the repository's own files, ledgers and stats
 * databases at request time, so what another process published shows on the next load.
 */
export function addUiApiRoutes(router: Router, options: UiApiOptions): Router {
  const { dataDir, sampler } = options;
  const route = (sub: string, run: (ctx: RequestContext, fqrn: string) => Promise<unknown>) =>
    router.on(
      GET,
      `/api/v1/ui/repositories/:fqrn/${sub}`,
      jsonRoute(async (ctx) => {
        const fqrn = ctx.params.fqrn ?? '';
        await readFacts(dataDir, fqrn); // REPO_NOT_FOUND before anything else
        sendJson(ctx, 200, await run(ctx, fqrn));
      }),
    );
  router.on(
    GET,
    '/api/v1/ui/repositories',
    jsonRoute(async (ctx) => {
      const names = await repositoryNames(dataDir);
      sendJson(ctx, 200, {
        now: new Date().toISOString(),
        repositories: await Promise.all(names.map((fqrn) => summary(dataDir, fqrn, sampler))),
      });
    }),
  );
  route('images', (_ctx, fqrn) =>
    withReader(dataDir, fqrn, undefined, async (reader) => ({
      revision: reader.manifest.revision,
      images: await listImageViews(reader, sampler.db(fqrn)?.syncs() ?? []),
    })),
  );
  route('uploads', async (_ctx, fqrn) => uploads(dataDir, fqrn));
  route('stats', async (_ctx, fqrn) => {
    const latest = await sampler.refresh(fqrn, 5000);
    return { latest: latest ?? null, samples: sampler.history(fqrn, 1000) };
  });
  route('gc', async (_ctx, fqrn) => {
    const facts = await readFacts(dataDir, fqrn);
    return { retention: facts.config?.retention ?? null, runs: readLedger(dataDir, fqrn)?.gcRuns ?? [] };
  });
  route('revisions', async (_ctx, fqrn) => ({ roots: await browsableRoots(dataDir, fqrn) }));
  route('files', async (ctx, fqrn) => {
    const query = new URL(ctx.req.url ?? '/', 'http://x').searchParams;
    const roots = await browsableRoots(dataDir, fqrn);
    const wanted = query.get('root');
    const root = wanted ? roots.find((r) => r.hash === wanted) : roots[0];
    if (!root) {
      throw new BargeError('TAG_NOT_FOUND', `no kept revision or tag of ${fqrn} has root catalog ${wanted}`, {
        hint: 'pick one from /api/v1/ui/repositories/<fqrn>/revisions',
      });
    }
    const dir = browsePath(query.get('path'));
    return withReader(dataDir, fqrn, root.hash, async (reader) => ({
      root,
      ...(await listDirectory(reader, dir)),
    }));
  });
  return router;
}

/** One repository on the overview. */
async function summary(dataDir: string, fqrn: string, sampler: StatsSampler) {
  const facts = await readFacts(dataDir, fqrn);
  const ledger: LedgerFacts | undefined = readLedger(dataDir, fqrn);
  const now = Date.now();
  const m = facts.manifest;
  const tags = await withReader(dataDir, fqrn, undefined, async (reader) => {
    const history = await reader.history();
    try {
      return (history?.tags() ?? []).map((t) => ({
        name: t.name,
        revision: t.revision,
        hash: t.hash,
        timestamp: new Date(t.timestamp * 1000).toISOString(),
        description: t.description,
      }));
    } finally {
      history?.close();
    }
  });
  const expires = facts.whitelist?.expires.getTime();
  const stats = await sampler.refresh(fqrn, 2000);
  const lastGc = ledger?.gcRuns[0];
  return {
    fqrn,
    revision: m.revision,
    rootHash: m.rootHash,
    published: new Date(m.timestamp * 1000).toISOString(),
    manifestAgeSeconds: Math.max(0, Math.round(now / 1000 - m.timestamp)),
    whitelist:
      expires === undefined
        ? null
        : {
            expires: new Date(expires).toISOString(),
            secondsLeft: Math.round((expires - now) / 1000),
            expired: expires <= now,
            warning: expires - now < WHITELIST_WARNING_DAYS * 86_400_000,
          },
    tags,
    writable: facts.config !== undefined,
    uploads: facts.config?.uploads ?? null,
    publishes: ledger?.publishes ?? null,
    gcRuns: ledger?.gcRuns.length ?? 0,
    lastGc: lastGc ? new Date(lastGc.startedAt * 1000).toISOString() : null,
    stats: stats ?? null,
  };
}

/** Uploads of a repository by group, with the date each expires (null when pinned). */
async function uploads(dataDir: string, fqrn: string) {
  const facts = await readFacts(dataDir, fqrn);
  const settings = facts.config?.uploads;
  const { state } = repositoryPaths(dataDir, fqrn);
  if (!settings || !existsSync(path.join(state, 'uploads.db'))) {
    return { enabled: Boolean(settings), settings: settings ?? null, groups: [] };
  }
  const db = new UploadsDb(state);
  try {
    const groups = new Map<string, unknown[]>();
    for (const u of db.all()) {
      const list = groups.get(u.group) ?? [];
      list.push({
        cid: u.cid,
        digest: u.cid.slice(u.group.length + 1),
        state: u.state,
        path: `/cvmfs/${fqrn}${u.path}`,
        files: u.files,
        bytes: u.bytes,
        tarballBytes: u.tarballBytes,
        addedBytes: u.addedBytes,
        revision: u.revision,
        created: new Date(u.createdAt * 1000).toISOString(),
        lastUsed: new Date(u.lastUsedAt * 1000).toISOString(),
        expires: u.pinned
          ? null
          : new Date((u.lastUsedAt + settings.expiryDays * 86400) * 1000).toISOString(),
        pinned: u.pinned,
      });
      groups.set(u.group, list);
    }
    return {
      enabled: true,
      settings,
      groups: [...groups].map(([group, list]) => ({ group, uploads: list })),
    };
  } finally {
    db.close();
  }
}

/** Roots the file browser may open: current first, then tags, then kept revisions, newest first. */
async function browsableRoots(dataDir: string, fqrn: string): Promise<BrowsableRoot[]> {
  const at = (s: number) => new Date(s * 1000).toISOString();
  return withReader(dataDir, fqrn, undefined, async (reader) => {
    const m = reader.manifest;
    const roots: BrowsableRoot[] = [
      {
        kind: 'current',
        name: 'current',
        revision: m.revision,
        hash: m.rootHash,
        timestamp: at(m.timestamp),
      },
    ];
    const history = await reader.history();
    try {
      for (const t of history?.tags() ?? []) {
        roots.push({
          kind: 'tag',
          name: t.name,
          revision: t.revision,
          hash: t.hash,
          timestamp: at(t.timestamp),
        });
      }
    } finally {
      history?.close();
    }
    for (const r of readLedger(dataDir, fqrn)?.revisions ?? []) {
      if (r.root === m.rootHash) continue;
      roots.push({
        kind: 'revision',
        name: `revision ${r.revision}`,
        revision: r.revision,
        hash: r.root,
        timestamp: at(r.timestamp),
      });
    }
    return roots;
  });
}

/**
 * Opens the repository's served files (on disk or in its bucket) for one request, without the
 * trust chain: they are this server's own, and a dashboard must still show a repository whose
 * whitelist expired. Objects are still checked against their hashes.
 */
async function withReader<T>(
  dataDir: string,
  fqrn: string,
  rootHash: string | undefined,
  use: (reader: RepositoryReader) => Promise<T>,
): Promise<T> {
  const { store, close } = await openServedStore(dataDir, fqrn);
  try {
    const reader = await RepositoryReader.open(storeSource(store, fqrn), {
      verify: false,
      fqrn,
      ...(rootHash ? { rootHash } : {}),
    });
    try {
      return await use(reader);
    } finally {
      await reader.close();
    }
  } finally {
    close();
  }
}
