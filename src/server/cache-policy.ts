import { BargeError } from '../error/index.js';

/** Seconds a proxy may keep `.cvmfs*` files and anything not content-addressed (cvmfs_server: 61). */
export const MUTABLE_MAX_AGE = 61;
/** Seconds a proxy may keep `data/` objects, which never change under their name (cvmfs_server: 3 days). */
export const OBJECT_MAX_AGE = 3 * 24 * 3600;

/**
 * The proxy lifetime of a repository file: 3 days for `data/` objects, `mutableMaxAge` (61 s)
 * for everything else.
 */
export function maxAgeOf(key: string, mutableMaxAge = MUTABLE_MAX_AGE): number {
  // Only data/ is content-addressed; a file elsewhere (.cvmfspublished, .cvmfswhitelist,
  // .cvmfs_status.json, future extras) may be replaced in place, so it gets the short lifetime.
  return key.startsWith('data/') ? OBJECT_MAX_AGE : mutableMaxAge;
}

/**
 * The lifetime of manifests and other mutable files from `BARGE_MUTABLE_MAX_AGE` (whole seconds),
 * else 61. Shorter lifetimes let tests watch a cache (Squid) pick up a new revision; a site may
 * also trade proxy load for faster propagation, as cvmfs_server's Apache config allows.
 */
export function mutableMaxAgeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.BARGE_MUTABLE_MAX_AGE;
  if (text === undefined || text === '') return MUTABLE_MAX_AGE;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new BargeError('INVALID_ARGUMENT', `BARGE_MUTABLE_MAX_AGE must be whole seconds, not '${text}'`);
  }
  return n;
}

interface Stamped {
  second: number;
  control: string;
  expires: string;
}

const stamps = new Map<number, Stamped>();

/**
 * `Cache-Control` and the matching `Expires` for a lifetime, as Apache's mod_expires sends them
 * ("access plus 61 seconds"). Expires is for HTTP/1.0 caches. Formatting a date costs about as
 * much as the rest of a small response's headers, so each value is kept for the current second.
 */
export function cacheHeaders(maxAge: number): { 'Cache-Control': string; Expires: string } {
  const second = Math.floor(Date.now() / 1000);
  let stamp = stamps.get(maxAge);
  if (stamp === undefined || stamp.second !== second) {
    stamp = {
      second,
      control: `max-age=${maxAge}`,
      expires: new Date((second + maxAge) * 1000).toUTCString(),
    };
    stamps.set(maxAge, stamp);
  }
  return { 'Cache-Control': stamp.control, Expires: stamp.expires };
}
