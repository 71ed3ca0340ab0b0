import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../error/index.js';
import { cacheHeaders, MUTABLE_MAX_AGE } from './cache-policy.js';
import { isFqrn } from './repository-path.js';
import { sendBody } from './respond.js';
import type { RouteHandler } from './router.js';
import { keptInS3 } from './store-files.js';

/** One entry of repositories.json. */
export interface RepositoryEntry {
  name: string;
  url: string;
}

/** The server meta info document cvmfs_server keeps at `/cvmfs/info/v1/repositories.json`. */
export interface RepositoriesDocument {
  schema: 1;
  repositories: RepositoryEntry[];
  replicas: RepositoryEntry[];
}

/**
 * Lists the repositories under `reposDir`: every directory named like an fqrn that holds a
 * `.cvmfspublished` (a directory without one is not mountable yet). Like cvmfs_server, stratum 1
 * copies (marked by `.cvmfs_last_snapshot`, written by snapshots) are listed as replicas.
 */
export async function listRepositories(reposDir: string): Promise<RepositoriesDocument> {
  let names: string[];
  try {
    names = await fsp.readdir(reposDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { schema: 1, repositories: [], replicas: [] };
    throw err;
  }
  const found = await Promise.all(
    names.filter(isFqrn).map(async (name) => {
      const [onDisk, snapshot] = await Promise.all([
        exists(`${reposDir}/${name}/.cvmfspublished`),
        exists(`${reposDir}/${name}/.cvmfs_last_snapshot`),
      ]);
      // A repository kept in S3 has an empty directory here (its files are in the bucket).
      const manifest = onDisk || (await keptInS3(path.dirname(reposDir), name));
      return { entry: { name, url: `/cvmfs/${name}` }, manifest, snapshot };
    }),
  );
  found.sort((a, b) => (a.entry.name < b.entry.name ? -1 : 1));
  return {
    schema: 1,
    repositories: found.filter((r) => r.manifest && !r.snapshot).map((r) => r.entry),
    replicas: found.filter((r) => r.manifest && r.snapshot).map((r) => r.entry),
  };
}

/**
 * GET/HEAD of `/cvmfs/info/v1/repositories.json`. Read from disk on each request: it is small,
 * rarely asked for, and Squid keeps it for the same 61 s as a manifest.
 */
export function repositoriesJson(reposDir: string): RouteHandler {
  return async (ctx) => {
    const body = Buffer.from(`${JSON.stringify(await listRepositories(reposDir), null, 2)}\n`);
    sendBody(ctx, 200, body, { 'Content-Type': 'application/json', ...cacheHeaders(MUTABLE_MAX_AGE) });
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fsp.stat(file)).isFile();
  } catch {
    return false;
  }
}
