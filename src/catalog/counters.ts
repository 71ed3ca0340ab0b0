import { type Dirent, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './dirent.js';

/** The statistics counter names; each exists as `self_<name>` and `subtree_<name>` (spec §6.7). */
export const COUNTER_FIELDS = [
  'regular',
  'symlink',
  'special',
  'dir',
  'nested',
  'chunked',
  'chunks',
  'file_size',
  'chunked_size',
  'xattr',
  'external',
  'external_file_size',
] as const;

/** One value per counter field. */
export type Counters = Record<(typeof COUNTER_FIELDS)[number], number>;

/** All-zero counters. */
export function zeroCounters(): Counters {
  return Object.fromEntries(COUNTER_FIELDS.map((f) => [f, 0])) as Counters;
}

/** a + sign·b, field by field. */
export function addCounters(a: Counters, b: Counters, sign: 1 | -1 = 1): Counters {
  const out = zeroCounters();
  for (const f of COUNTER_FIELDS) out[f] = a[f] + sign * b[f];
  return out;
}

/**
 * The `self_` counters of a catalog from its rows, as cvmfs counts them (verified on the fixture):
 * directories include the catalog's own root entry and mountpoints of nested catalogs; regular
 * files include chunked ones; `nested` is the number of nested_catalogs rows.
 */
export function countEntries(entries: Iterable<Dirent>, nestedCount: number): Counters {
  const c = zeroCounters();
  for (const d of entries) {
    const type = d.mode & S_IFMT;
    if (type === S_IFREG) {
      c.regular++;
      c.file_size += d.size;
      if (d.chunks.length > 0) {
        c.chunked++;
        c.chunked_size += d.size;
        c.chunks += d.chunks.length;
      }
      if (d.external) {
        c.external++;
        c.external_file_size += d.size;
      }
    } else if (type === S_IFDIR) c.dir++;
    else if (type === S_IFLNK) c.symlink++;
    else c.special++;
    if (d.xattrs && d.xattrs.size > 0) c.xattr++;
  }
  c.nested = nestedCount;
  return c;
}
