import { type BargeError, isBargeError } from '../error/index.js';
import type { Publisher } from '../publish/index.js';
import type { FlattenStats } from './flatten-image.js';
import { addReference, removeImage } from './image-catalog.js';
import { userPath } from './image-layout.js';
import { ImageState } from './image-state.js';
import { nameOf } from './open-image.js';
import { parseImageReference, type RegistryClient } from './registry/index.js';
import { inputReference, tagMatches, type Wishlist } from './wishlist.js';

/** One line of a sync summary. */
export interface SyncOutcome {
  reference: string;
  /** `removed`: the wishlist stopped producing it longer ago than the grace (images.graceDays). */
  status: 'published' | 'unchanged' | 'failed' | 'removed';
  revision?: number;
  error?: { code: string; message: string };
  seconds: number;
}

/** Options of syncWishlist. */
export interface SyncOptions {
  client: RegistryClient;
  platform?: string;
  onOutcome?: (o: SyncOutcome) => void;
  onLayer?: (layer: number, layers: number, stats: FlattenStats) => void;
  /**
   * Who manages the references the wishlist produces (`images sync` passes the file's real path).
   * Without it the sync adds and updates only, and removes nothing.
   */
  wishlistId?: string;
  /** Unix seconds (tests move the clock). */
  now?: number;
}

/**
 * Brings a repository in step with a DUCC wishlist: expands `*` tags from the registry, adds every
 * image whose digest changed, leaves the others alone. One image's failure does not stop the rest.
 *
 * With a `wishlistId`, a reference the wishlist managed and no longer produces (taken out of it, a
 * `*` tag the registry no longer lists, a tag the registry definitely does not have) is missing
 * from that sync on, and removed as by `images rm` once missing for the grace; produced again, it
 * is not missing any more. An input the registry could not answer for (network, 5xx, auth) makes
 * nothing it matches missing. References added by hand (`images add`) or still produced by
 * another wishlist are never removed.
 */
export async function syncWishlist(
  publisher: Publisher,
  wishlist: Wishlist,
  options: SyncOptions,
): Promise<SyncOutcome[]> {
  const outcomes: SyncOutcome[] = [];
  const report = (o: SyncOutcome) => {
    outcomes.push(o);
    options.onOutcome?.(o);
  };
  /** References the wishlist produces now, as image names in the repository (`registry/repo:tag`). */
  const produced = new Set<string>();
  /** References it produces that failed for a reason that may pass: not missing, not new either. */
  const failed = new Set<string>();
  /** Inputs the registry did not answer for: what they match may still exist. */
  const unsure: string[] = [];
  for (const input of wishlist.input) {
    const text = inputReference(input);
    let refs: string[];
    try {
      refs = await expandInput(text, options.client);
    } catch (err) {
      report({ reference: text, status: 'failed', error: errorOf(err), seconds: 0 });
      // A repository the registry does not know has no tags left; anything else may pass.
      if (!isBargeError(err, 'REGISTRY_NOT_FOUND')) unsure.push(text);
      continue;
    }
    for (const ref of refs) {
      const started = Date.now();
      try {
        const r = await addReference(publisher, ref, {
          client: options.client,
          ...(options.platform ? { platform: options.platform } : {}),
          ...(options.onLayer ? { onLayer: options.onLayer } : {}),
        });
        produced.add(r.reference);
        report({ reference: r.reference, status: r.status, revision: r.revision, seconds: r.seconds });
      } catch (err) {
        report({
          reference: ref,
          status: 'failed',
          error: errorOf(err),
          seconds: (Date.now() - started) / 1000,
        });
        const key = referenceKey(ref);
        if (key && !(await isGone(ref, err, options.client))) failed.add(key);
      }
    }
  }
  if (options.wishlistId !== undefined) {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    await retireMissing(publisher, options.wishlistId, { produced, failed, unsure, now, report });
  }
  return outcomes;
}

/** Records what a wishlist manages now, marks what it stopped producing, removes what is missing past the grace. */
async function retireMissing(
  publisher: Publisher,
  wishlistId: string,
  sync: {
    produced: Set<string>;
    failed: Set<string>;
    unsure: string[];
    now: number;
    report: (o: SyncOutcome) => void;
  },
): Promise<void> {
  const state = new ImageState(publisher.paths.state);
  try {
    for (const reference of sync.produced)
      if (!state.isAddedByHand(reference)) state.manage(wishlistId, reference);
    const cutoff = sync.now - publisher.config.images.graceDays * 86400;
    for (const { reference } of state.managed(wishlistId)) {
      if (
        sync.produced.has(reference) ||
        sync.failed.has(reference) ||
        sync.unsure.some((input) => inputMatches(input, reference))
      )
        continue;
      if (state.wantedElsewhere(wishlistId, reference)) {
        // Another wishlist or `images add` keeps it: this wishlist just stops managing it.
        state.forgetManaged(wishlistId, reference);
        continue;
      }
      if (state.markMissing(wishlistId, reference, sync.now) > cutoff) continue;
      const started = Date.now();
      try {
        const r = await removeImage(publisher, reference);
        sync.report({
          reference,
          status: 'removed',
          revision: r.revision,
          seconds: (Date.now() - started) / 1000,
        });
      } catch (err) {
        // Already gone from the tree (removed by hand in the meantime): nothing left to manage.
        if (isBargeError(err, 'IMAGE_NOT_FOUND')) state.forgetReference(reference);
        else
          sync.report({
            reference,
            status: 'failed',
            error: errorOf(err),
            seconds: (Date.now() - started) / 1000,
          });
      }
    }
  } finally {
    state.close();
  }
}

/**
 * Whether the registry definitely has no such image: the failure was a 404, and the manifest
 * request by itself answers 404 too (a missing blob of an existing image is not a missing image).
 */
async function isGone(ref: string, err: unknown, client: RegistryClient): Promise<boolean> {
  if (!isBargeError(err, 'REGISTRY_NOT_FOUND')) return false;
  try {
    await client.headManifest(ref);
    return false;
  } catch (again) {
    return isBargeError(again, 'REGISTRY_NOT_FOUND');
  }
}

/** The image name a reference is published under (`registry/repo:tag`), or undefined if it has none. */
function referenceKey(ref: string): string | undefined {
  try {
    return userPath(nameOf(ref)).slice(1);
  } catch {
    return undefined;
  }
}

/** Whether wishlist input `input` (perhaps with a `*` tag) can produce the image name `reference`. */
function inputMatches(input: string, reference: string): boolean {
  try {
    const ref = parseImageReference(input, { allowWildcardTag: true });
    const prefix = `${ref.displayRegistry}/${ref.repository}:`;
    const suffix = ref.tag ?? ref.digest ?? 'latest';
    return reference.startsWith(prefix) && tagMatches(suffix, reference.slice(prefix.length));
  } catch {
    return false;
  }
}

async function expandInput(text: string, client: RegistryClient): Promise<string[]> {
  const ref = parseImageReference(text, { allowWildcardTag: true });
  if (!ref.tag?.includes('*')) return [text];
  const tags = (await client.listTags(ref)).filter((t) => tagMatches(ref.tag as string, t)).sort();
  const base = text.slice(0, text.lastIndexOf(':'));
  return tags.map((t) => `${base}:${t}`);
}

function errorOf(err: unknown): { code: string; message: string } {
  return { code: (err as BargeError).code ?? 'INTERNAL', message: (err as Error).message };
}
