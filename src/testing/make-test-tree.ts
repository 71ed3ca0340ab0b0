import { mkdir, readdir } from 'node:fs/promises';
import { SeededRandom } from './seeded-random.js';
import { STEPS } from './test-tree-steps.js';
import { TreeBuilder } from './tree-builder.js';

/** The parts of a test tree that can be chosen. */
export type TreeFeature =
  | 'files'
  | 'bigFile'
  | 'directories'
  | 'symlinks'
  | 'hardlinks'
  | 'crossDirectoryHardlinks'
  | 'fifo'
  | 'socket'
  | 'devices'
  | 'oddNames'
  | 'specialModes'
  | 'owners'
  | 'mtimes'
  | 'xattrs'
  | 'nestedCatalogs'
  | 'random';

/** Every feature, in generation order; the default selection. */
export const TREE_FEATURES: readonly TreeFeature[] = [
  'files',
  'bigFile',
  'directories',
  'symlinks',
  'hardlinks',
  'crossDirectoryHardlinks',
  'fifo',
  'socket',
  'devices',
  'oddNames',
  'specialModes',
  'owners',
  'mtimes',
  'xattrs',
  'nestedCatalogs',
  'random',
];

/** What makeTestTree generates. */
export interface TestTreeOptions {
  /** Seed of file contents, mtimes, xattr values and the random subtree; default 1. */
  seed?: number | string;
  /** Features to include; default TREE_FEATURES. */
  features?: readonly TreeFeature[];
  /** Features to leave out of `features`. */
  exclude?: readonly TreeFeature[];
  /** Size of big/big.bin in bytes; default 50 MiB (several CVMFS chunks of 4–16 MiB). */
  bigFileSize?: number;
  /** Directories (tree-relative) that get a `.cvmfscatalog` marker; default nested, nested/inner. */
  nestedCatalogs?: readonly string[];
  /** Entries in the seeded random subtree random/; default 24. */
  randomEntries?: number;
}

/** What makeTestTree could and could not make here. */
export interface TestTreeResult {
  /** Features present in the tree, at least in part. */
  created: TreeFeature[];
  /** Features, or parts of one, left out because this process or filesystem cannot make them. */
  skipped: Array<{ feature: TreeFeature; reason: string }>;
}

/**
 * Generates a tree with every kind of entry a repository can hold, deterministic from a seed:
 * two calls with the same options give trees whose snapshots (owners and mtimes included) are
 * identical. `dir` is created if missing and must be empty. Entries that need root (devices,
 * owners, a mode-0 file) or filesystem support (user xattrs) are left out, and reported, when
 * this process cannot make them. Top level: hello.txt, files/, big/, dirs/, links/,
 * hardlinks/, special/, odd/, modes/, owners/, mtimes/, xattrs/, nested/, random/.
 */
export async function makeTestTree(dir: string, options: TestTreeOptions = {}): Promise<TestTreeResult> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new Error(`makeTestTree: ${dir} is not empty`);
  const seed = options.seed ?? 1;
  const selected = new Set((options.features ?? TREE_FEATURES).filter((f) => !options.exclude?.includes(f)));
  const result: TestTreeResult = { created: [], skipped: [] };
  const builder = new TreeBuilder(dir, selected.has('mtimes') ? String(seed) : undefined);
  for (const feature of TREE_FEATURES) {
    if (!selected.has(feature)) continue;
    let available = true;
    await STEPS[feature](builder, {
      seed,
      options,
      has: (f) => selected.has(f),
      unavailable: (reason) => {
        available = false;
        result.skipped.push({ feature, reason });
      },
      skipPart: (reason) => result.skipped.push({ feature, reason }),
      rng: (label) => new SeededRandom(seed, `${feature}:${label}`),
    });
    if (available) result.created.push(feature);
  }
  await builder.finish();
  return result;
}
