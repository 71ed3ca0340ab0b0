/**
 * User code: tarballs that physicists upload for their grid jobs, published under
 * `/user/<group>/<sha256>/` as RCDS and cvmfs-user-pub lay them out. An upload is staged first:
 * read as it streams in (plain or compressed tar), checked against limits and hostile members,
 * its contents stored as objects, without touching any tree. Staged uploads are then applied to
 * a working tree in a batch, each as its own nested catalog, so a refused upload changes nothing.
 */

export type { StagedTarball, StageTarballOptions } from './tarball.js';
export { applyStagedTarball, stageTarball } from './tarball.js';
export type { TarballLimits } from './tarball-limits.js';
export { DEFAULT_TARBALL_LIMITS } from './tarball-limits.js';
export type { TarballBody } from './tarball-meter.js';
