import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { openObjectStore, parseStorageConfig, S3ObjectStore, type StorageConfig } from '../storage/index.js';
import { isFqrn } from './repository-path.js';
import { sendText } from './respond.js';
import type { RequestContext } from './router.js';

/** How long a repository found to keep its files on disk (or to have no config) is taken at its word. */
const RECHECK_MS = 5000;

/**
 * Finds the repositories of a data directory whose served files live in S3 (repository.json
 * `storage.type: "s3"`) and keeps one store per repository. A repository kept on disk costs one
 * Map lookup per request; its config is read again every few seconds, so that a repository made
 * after the server started is served from where it lives.
 */
export class RemoteRepositories {
  private readonly known = new Map<string, { store?: S3ObjectStore; checked: number }>();

  constructor(private readonly dataDir: string) {}

  /** The S3 store of `fqrn`, or undefined when it is served from disk (or does not exist). */
  async storeOf(fqrn: string): Promise<S3ObjectStore | undefined> {
    const hit = this.known.get(fqrn);
    if (hit && (hit.store || Date.now() - hit.checked < RECHECK_MS)) return hit.store;
    const store = await this.open(fqrn);
    this.known.set(fqrn, { ...(store ? { store } : {}), checked: Date.now() });
    return store;
  }

  private async open(fqrn: string): Promise<S3ObjectStore | undefined> {
    const storage = await storageOf(this.dataDir, fqrn);
    if (storage?.type !== 's3') return undefined;
    const served = path.join(this.dataDir, 'repos', fqrn);
    const store = openObjectStore({ fqrn, served }, { durable: false, storage });
    return store instanceof S3ObjectStore ? store : undefined;
  }
}

/** Whether repository `fqrn` of the data directory keeps its served files in S3. */
export async function keptInS3(dataDir: string, fqrn: string): Promise<boolean> {
  return (await storageOf(dataDir, fqrn))?.type === 's3';
}

/**
 * The repositories of a data directory kept in S3, sorted: names under repos/ (init leaves an
 * empty directory there) or state/ whose repository.json says `storage.type: "s3"`.
 */
export async function s3Repositories(dataDir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const dir of ['repos', 'state']) {
    for (const name of await fsp.readdir(path.join(dataDir, dir)).catch(() => [] as string[])) {
      if (isFqrn(name)) names.add(name);
    }
  }
  const kept = await Promise.all(
    [...names].map(async (name) => ((await keptInS3(dataDir, name)) ? name : '')),
  );
  return kept.filter(Boolean).sort();
}

/** The storage section of a repository's config; undefined without a readable one (a plain served directory, a replica). */
async function storageOf(dataDir: string, fqrn: string): Promise<StorageConfig | undefined> {
  const file = path.join(dataDir, 'state', fqrn, 'repository.json');
  try {
    return parseStorageConfig(JSON.parse(await fsp.readFile(file, 'utf8')).storage, file);
  } catch {
    return undefined;
  }
}

const SINGLE_RANGE = /^bytes=(\d+-\d*|-\d+)$/i;

/**
 * Answers GET/HEAD of one file from an S3 store, streamed through: the same headers as a file
 * from disk (barge's cache lifetime by kind, no ETag or Last-Modified, single byte ranges), so
 * that clients and Squid cannot tell where the bytes came from.
 */
export async function sendFromStore(
  ctx: RequestContext,
  store: S3ObjectStore,
  key: string,
  cache: Record<string, string>,
  notFound: () => void,
): Promise<void> {
  const { req, res } = ctx;
  const base = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ...cache };
  if (req.method === 'HEAD') {
    const size = await store.size(key);
    if (size === undefined) return notFound();
    res.writeHead(200, { ...base, 'Content-Length': size });
    res.end();
    return;
  }
  // As for files on disk: If-Range cannot match (no validators are sent), so it means "whole file".
  const header = req.headers['if-range'] === undefined ? req.headers.range?.trim() : undefined;
  const read = await store.read(key, header && SINGLE_RANGE.test(header) ? header : undefined);
  if (read.status === 404 || read.status === 416) {
    read.body.resume();
    if (read.status === 404) return notFound();
    const size = /\/(\d+)$/.exec(read.contentRange ?? '')?.[1] ?? '*';
    return sendText(ctx, 416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}` });
  }
  res.writeHead(read.status, {
    ...base,
    'Content-Length': read.length,
    ...(read.status === 206 && read.contentRange ? { 'Content-Range': read.contentRange } : {}),
  });
  read.body.on('data', (chunk: Buffer) => {
    ctx.bytes += chunk.length;
  });
  pipeline(read.body, res, (err) => {
    if (err && (err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') ctx.error = err;
  });
}
