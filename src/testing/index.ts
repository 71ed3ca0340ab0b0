/**
 * Test tools, for tests only: makeTestTree builds a tree with every entry kind a repository can
 * hold (deterministic from a seed), snapshotTree describes a tree with its own walker (never
 * barge's catalog or reader code, so a bug there cannot mask itself), and diffTrees lists how
 * two snapshots differ. The reference repository written by the real CVMFS tools is in fixture.
 */

export type { DiffIgnore, DiffTreesOptions } from './diff-trees.js';
export { diffTrees } from './diff-trees.js';
export {
  FIXTURE_DIR,
  FIXTURE_FQRN,
  FIXTURE_PUB,
  FIXTURE_SERVED,
  fixtureFile,
  fixtureManifest,
} from './fixture.js';
export type { TestTreeOptions, TestTreeResult, TreeFeature } from './make-test-tree.js';
export { makeTestTree, TREE_FEATURES } from './make-test-tree.js';
export { SeededRandom } from './seeded-random.js';
export type { SnapshotOptions, TreeEntry, TreeEntryType } from './snapshot-tree.js';
export { comparePaths, snapshotTree } from './snapshot-tree.js';
