import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BargeError, errnoCode } from '../error/index.js';
import { type ChunkSizes, DEFAULT_CHUNK_SIZES, type HashAlgorithm } from '../object/index.js';
import { parseStorageConfig, type StorageConfig } from '../storage/index.js';

/** Per-repository settings, fixed at init (stored in the state directory, never served). */
export interface RepositoryConfig {
  fqrn: string;
  /** Content hash algorithm of new objects (cvmfs default sha1; shake128 recommended for new repositories). */
  hashAlgorithm: HashAlgorithm;
  /** Root catalog TTL: how often clients check for a new revision (seconds). */
  ttl: number;
  /** Chunking of large files; null turns it off. */
  chunkSizes: ChunkSizes | null;
  /** Lifetime of a signed whitelist (days); `barge resign` renews it. */
  whitelistDays: number;
  /** Flush objects to disk before swapping in a manifest. */
  durable: boolean;
  /** User code uploads through the API (`barge uploads enable`); null: this repository takes none. */
  uploads: UploadSettings | null;
  /** Which revisions gc keeps. */
  retention: RetentionPolicy;
  /** How images that nothing names any more leave the tree. */
  images: ImageSettings;
  /** Where the served files live: `<data>/repos/<fqrn>/` (fs, the default) or an S3 bucket. */
  storage: StorageConfig;
}

/** How long revisions are kept (clients still on an older revision keep working). */
export interface RetentionPolicy {
  /** Keep the newest N revisions. */
  revisions: number;
  /** And every revision younger than this many days. */
  days: number;
}

/** Keep the newest 5 and everything younger than 3 days (cvmfs_server's auto-gc timespan). */
export const DEFAULT_RETENTION: RetentionPolicy = { revisions: 5, days: 3 };

/** How long images nobody names any more stay in the tree (running jobs still read them). */
export interface ImageSettings {
  /**
   * Days a flat root stays after gc first finds nothing referring to it, and a wishlist-managed
   * image stays after its wishlist stopped producing it; 0 removes them at the next gc or sync.
   */
  graceDays: number;
}

/** A week: a grid job that resolved an image link runs for days at most. */
export const DEFAULT_IMAGE_SETTINGS: ImageSettings = { graceDays: 7 };

/** How a repository takes user code. */
export interface UploadSettings {
  /** Top directory of the uploads: `/<prefix>/<group>/<hash>/` (`sw` is cvmfs-user-pub's). */
  prefix: string;
  /** Unused, unpinned uploads are removed after this many days without exists/update/publish. */
  expiryDays: number;
}

/** Defaults of UploadSettings: `/user/<group>/<hash>/`, 30 days as RCDS keeps them. */
export const DEFAULT_UPLOAD_SETTINGS: UploadSettings = { prefix: 'user', expiryDays: 30 };

const FILE = 'repository.json';

/**
 * Validates settings and fills in defaults. Checked by hand rather than with zod: this file is
 * written by barge itself, and importing zod costs ~120 ms, a fifth of an unchanged republish.
 */
export function parseRepositoryConfig(input: unknown, where = FILE): RepositoryConfig {
  const o = (input ?? {}) as Record<string, unknown>;
  const fail = (field: string, want: string): never => {
    throw new BargeError('INVALID_ARGUMENT', `${where}: ${field} must be ${want}`);
  };
  const positiveInt = (field: string, fallback: number): number => {
    const v = o[field] ?? fallback;
    return Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : fail(field, 'a positive integer');
  };
  if (typeof o.fqrn !== 'string') fail('fqrn', 'a repository name');
  const hashAlgorithm = o.hashAlgorithm ?? 'sha1';
  if (hashAlgorithm !== 'sha1' && hashAlgorithm !== 'rmd160' && hashAlgorithm !== 'shake128') {
    fail('hashAlgorithm', 'sha1, rmd160 or shake128');
  }
  let chunkSizes: ChunkSizes | null = DEFAULT_CHUNK_SIZES;
  if (o.chunkSizes === null) chunkSizes = null;
  else if (o.chunkSizes !== undefined) {
    const c = o.chunkSizes as Record<string, unknown>;
    const ok = [c.min, c.avg, c.max].every((v) => Number.isSafeInteger(v) && (v as number) > 0);
    if (!ok || !((c.min as number) < (c.avg as number) && (c.avg as number) < (c.max as number))) {
      fail('chunkSizes', '{min, avg, max} with min < avg < max');
    }
    chunkSizes = { min: c.min as number, avg: c.avg as number, max: c.max as number };
  }
  if (o.durable !== undefined && typeof o.durable !== 'boolean') fail('durable', 'true or false');
  let uploads: UploadSettings | null = null;
  if (o.uploads !== undefined && o.uploads !== null) {
    const u = o.uploads as Record<string, unknown>;
    const prefix = u.prefix ?? DEFAULT_UPLOAD_SETTINGS.prefix;
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(prefix)) {
      fail('uploads.prefix', 'one directory name (letters, digits, . _ -)');
    }
    const days = u.expiryDays ?? DEFAULT_UPLOAD_SETTINGS.expiryDays;
    if (typeof days !== 'number' || !(days > 0) || !Number.isFinite(days)) {
      fail('uploads.expiryDays', 'a positive number of days');
    }
    uploads = { prefix: prefix as string, expiryDays: days as number };
  }
  const r = (o.retention ?? {}) as Record<string, unknown>;
  const keepRevisions = r.revisions ?? DEFAULT_RETENTION.revisions;
  const keepDays = r.days ?? DEFAULT_RETENTION.days;
  if (!Number.isSafeInteger(keepRevisions) || (keepRevisions as number) < 1)
    fail('retention.revisions', 'an integer ≥ 1');
  if (typeof keepDays !== 'number' || !(keepDays >= 0)) fail('retention.days', 'a number of days ≥ 0');
  const i = (o.images ?? {}) as Record<string, unknown>;
  const graceDays = i.graceDays ?? DEFAULT_IMAGE_SETTINGS.graceDays;
  if (typeof graceDays !== 'number' || !(graceDays >= 0) || !Number.isFinite(graceDays))
    fail('images.graceDays', 'a number of days ≥ 0');
  return {
    fqrn: o.fqrn as string,
    hashAlgorithm: hashAlgorithm as HashAlgorithm,
    ttl: positiveInt('ttl', 240),
    chunkSizes,
    whitelistDays: positiveInt('whitelistDays', 30),
    durable: (o.durable as boolean | undefined) ?? true,
    uploads,
    retention: { revisions: keepRevisions as number, days: keepDays as number },
    images: { graceDays: graceDays as number },
    storage: parseStorageConfig(o.storage, where),
  };
}

/** Reads the settings of a repository from its state directory. */
export async function readRepositoryConfig(stateDir: string, fqrn: string): Promise<RepositoryConfig> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(stateDir, FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      // A stratum-1 replica (barge replicate) has a state directory but no writer settings.
      if (await fsp.stat(path.join(stateDir, 'replica.json')).catch(() => undefined)) {
        throw new BargeError(
          'REPO_IS_REPLICA',
          `${fqrn} is a stratum-1 replica: it follows its source, nothing writes it here`,
          {
            hint: 'publish at the source (stratum 0); `barge replicate` brings the change here',
          },
        );
      }
      throw new BargeError('REPO_NOT_FOUND', `repository ${fqrn} does not exist in this data directory`, {
        hint: `create it with 'barge init ${fqrn}', or point --data / BARGE_DATA at the right directory`,
      });
    }
    throw err;
  }
  return parseRepositoryConfig(JSON.parse(text), path.join(stateDir, FILE));
}

/** Writes the settings atomically. */
export async function writeRepositoryConfig(stateDir: string, config: RepositoryConfig): Promise<void> {
  await fsp.mkdir(stateDir, { recursive: true });
  const tmp = path.join(stateDir, `${FILE}.tmp`);
  await fsp.writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`);
  await fsp.rename(tmp, path.join(stateDir, FILE));
}
