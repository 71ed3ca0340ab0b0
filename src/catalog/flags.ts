import { ALGORITHM_FLAG, algorithmFromFlag } from '../object/index.js';
import { type Dirent, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './dirent.js';

/** Catalog flag bits (spec §6.4). */
export const Flag = {
  dir: 1,
  nestedMountpoint: 2,
  file: 4,
  link: 8,
  special: 16,
  nestedRoot: 32,
  chunked: 64,
  external: 128,
  bindMountpoint: 0x4000,
  hidden: 0x8000,
  directIo: 0x10000,
} as const;

const ALGO_SHIFT = 8;
const COMPRESSION_SHIFT = 11;

/**
 * The `flags` column of an entry, as cvmfs_server writes it (symlinks 12, special files 20).
 * `nested` overrides the entry's nested root and mountpoint bits (the catalog writer knows them).
 */
export function encodeFlags(d: Dirent, nested?: { root: boolean; mountpoint: boolean }): number {
  const type = d.mode & S_IFMT;
  let f = 0;
  if (type === S_IFDIR) {
    f = Flag.dir;
    // The root of a nested catalog and the mountpoint in the parent are mutually exclusive.
    if (nested ? nested.root : d.nestedRoot) f |= Flag.nestedRoot;
    else if (nested ? nested.mountpoint : d.nestedMountpoint) f |= Flag.nestedMountpoint;
    if (d.bindMountpoint) f |= Flag.bindMountpoint;
  } else if (type === S_IFREG) {
    f = Flag.file;
    if (d.chunks.length > 0) f |= Flag.chunked;
    if (d.external) f |= Flag.external;
    if (d.directIo) f |= Flag.directIo;
    if (d.hash !== null || d.chunks.length > 0) f |= ALGORITHM_FLAG[d.hashAlgorithm] << ALGO_SHIFT;
    if (d.uncompressed) f |= 1 << COMPRESSION_SHIFT;
  } else if (type === S_IFLNK) {
    f = Flag.file | Flag.link;
  } else {
    f = Flag.file | Flag.special;
  }
  if (d.hidden) f |= Flag.hidden;
  return f;
}

/** The parts of a Dirent that only the flags carry, plus whether the file is chunked. */
export type DecodedFlags = Pick<
  Dirent,
  | 'hashAlgorithm'
  | 'uncompressed'
  | 'nestedMountpoint'
  | 'nestedRoot'
  | 'hidden'
  | 'external'
  | 'directIo'
  | 'bindMountpoint'
> & { chunked: boolean };

/** Decodes flags; the entry type is not taken from them (the client uses the mode). */
export function decodeFlags(flags: number): DecodedFlags {
  return {
    hashAlgorithm: algorithmFromFlag((flags >> ALGO_SHIFT) & 7),
    uncompressed: ((flags >> COMPRESSION_SHIFT) & 7) === 1,
    chunked: (flags & Flag.chunked) !== 0,
    nestedMountpoint: (flags & Flag.nestedMountpoint) !== 0,
    nestedRoot: (flags & Flag.nestedRoot) !== 0,
    hidden: (flags & Flag.hidden) !== 0,
    external: (flags & Flag.external) !== 0,
    directIo: (flags & Flag.directIo) !== 0,
    bindMountpoint: (flags & Flag.bindMountpoint) !== 0,
  };
}
