/**
 * Client side: read any CVMFS repository over HTTP or from a directory and materialise a tree or
 * subtree of it (`barge pull`), every object verified, for sites without CVMFS and for tests that
 * compare what was published with what comes back.
 */

export type { PullOptions, PullStats } from './pull.js';
export { pull } from './pull.js';
