import { BargeError } from '../error/index.js';

/** What one uploaded tarball may hold; every limit is enforced while the upload streams in. */
export interface TarballLimits {
  /** Bytes of the upload as sent (compressed), counted as they arrive. */
  maxTarballBytes: number;
  /** Bytes of one member's content; 1 GiB by default, as jobsub_lite enforces on its side. */
  maxMemberBytes: number;
  /** Tar entries (files, directories, links), the upload root included. */
  maxEntries: number;
  /** Bytes of a member's path below the upload root, and of a symlink's target. */
  maxPathLength: number;
  /** Uncompressed over compressed bytes; stops a decompression bomb while it inflates. */
  maxRatio: number;
}

const GiB = 1024 * 1024 * 1024;

/**
 * Defaults sized for analysis code (RCDS tarballs are typically a few MB to a few hundred MB).
 * A ratio of 100 passes any real code tarball (source and binaries compress 3-10x) while a
 * gzip'd 1 GiB of zeros (about 1000x) is stopped after a few MB of output.
 */
export const DEFAULT_TARBALL_LIMITS: TarballLimits = {
  maxTarballBytes: 2 * GiB,
  maxMemberBytes: GiB,
  maxEntries: 200_000,
  maxPathLength: 4096,
  maxRatio: 100,
};

/**
 * Output below this many bytes is never a bomb, whatever the ratio: a small tarball of one
 * sparse-ish file (a 500 KiB zero-filled data file compresses 1000x) must still be accepted.
 */
export const BOMB_FLOOR_BYTES = 1024 * 1024;

/** Linux NAME_MAX: a longer name component cannot be created by any client. */
export const NAME_MAX = 255;

/** The defaults with `overrides` applied, each checked to be a positive number. */
export function resolveTarballLimits(overrides: Partial<TarballLimits> = {}): TarballLimits {
  const limits: TarballLimits = { ...DEFAULT_TARBALL_LIMITS };
  for (const [key, value] of Object.entries(overrides) as [keyof TarballLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_TARBALL_LIMITS)) {
      throw new BargeError('INVALID_ARGUMENT', `unknown tarball limit ${JSON.stringify(key)}`, {
        hint: `the limits are ${Object.keys(DEFAULT_TARBALL_LIMITS).join(', ')}`,
      });
    }
    if (typeof value !== 'number' || !(value > 0)) {
      throw new BargeError('INVALID_ARGUMENT', `tarball limit ${key} must be a positive number`, {
        hint: `the default is ${DEFAULT_TARBALL_LIMITS[key]}`,
      });
    }
    limits[key] = value;
  }
  return limits;
}
