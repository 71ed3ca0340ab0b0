import { parentPath } from '../catalog/index.js';
import type { Publisher, WorkingTree } from '../publish/index.js';
import { FLAT_DIR } from './image-layout.js';
import { referencedRoots } from './image-records.js';
import type { ImageState } from './image-state.js';

/** What gc does with the flat roots barge made that no image record names. */
export interface FlatRootPlan {
  /** Unnamed for the grace or longer, in the tree: they leave it in gc's retention revision. */
  expired: string[];
  /** Unnamed for less than the grace, in the tree: left for the jobs that may still read them. */
  kept: { root: string; unreferencedSince: number; days: number }[];
  /** Unnamed and no longer in the tree (a killed gc removed them): only their rows go. */
  gone: string[];
}

/** DUCC's flat root shape; anything else in the state is not barge's to remove. */
const FLAT_ROOT = new RegExp(`^${FLAT_DIR.replace('.', '\\.')}/[0-9a-f]{2}/[0-9a-f]{64}$`);

/**
 * Plans the removal of flat roots. Candidates are only the roots barge made (images.db), never
 * those of a DUCC-written tree; a root is named when an image record of the current revision
 * names it. A root goes `graceDays` after gc first found it unnamed, not at once: a running grid
 * job that resolved `<registry>/<image>:<tag>` to it keeps opening files in it after its client
 * remounts a newer revision, and removing roots at once is how the first big cleanup of a public
 * image repository broke running jobs. With `observe`, what gc saw is written to the state
 * (unnamed since now, or named again); without (a dry run), nothing is.
 *
 * Call it under the repository lock, on the revision the removal will edit, so that no image
 * added meanwhile names a root it removes.
 */
export async function planFlatRoots(
  publisher: Publisher,
  state: ImageState,
  options: { now: number; graceDays: number; observe: boolean },
): Promise<FlatRootPlan> {
  const { now, graceDays } = options;
  const named = await referencedRoots(publisher);
  const made = state.madeRoots().filter((r) => FLAT_ROOT.test(r.root));
  const unnamed = made.filter((r) => !named.has(r.root));
  if (options.observe) state.observeRoots(new Set(unnamed.map((r) => r.root)), now);
  const plan: FlatRootPlan = { expired: [], kept: [], gone: [] };
  const tree = publisher.newTree();
  const cutoff = now - graceDays * 86400;
  for (const { root, unreferencedSince } of unnamed) {
    const since = unreferencedSince ?? now;
    if (!(await tree.get(root))) plan.gone.push(root);
    else if (since <= cutoff) plan.expired.push(root);
    else plan.kept.push({ root, unreferencedSince: since, days: (now - since) / 86400 });
  }
  return plan;
}

/**
 * Removes flat roots from a working tree (each its own nested catalog), and each `/.flat/<xx>`
 * left empty. Returns the roots that were there.
 */
export async function removeFlatRoots(tree: WorkingTree, roots: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const root of roots) {
    if (!FLAT_ROOT.test(root) || !(await tree.get(root))) continue;
    await tree.remove(root);
    removed.push(root);
    const parent = parentPath(root);
    if ((await tree.list(parent)).length === 0) await tree.remove(parent);
  }
  return removed;
}
