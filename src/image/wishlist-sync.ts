import type { BargeError } from '../error/index.js';
import type { Publisher } from '../publish/index.js';
import type { FlattenStats } from './flatten-image.js';
import { addImage } from './image-catalog.js';
import { parseImageReference, type RegistryClient } from './registry/index.js';
import { inputReference, tagMatches, type Wishlist } from './wishlist.js';

/** One line of a sync summary. */
export interface SyncOutcome {
  reference: string;
  status: 'published' | 'unchanged' | 'failed';
  revision?: number;
  error?: { code: string; message: string };
  seconds: number;
}

/**
 * Brings a repository in step with a DUCC wishlist: expands `*` tags from the registry, adds every
 * image whose digest changed, leaves the others alone. One image's failure does not stop the rest.
 */
export async function syncWishlist(
  publisher: Publisher,
  wishlist: Wishlist,
  options: {
    client: RegistryClient;
    platform?: string;
    onOutcome?: (o: SyncOutcome) => void;
    onLayer?: (layer: number, layers: number, stats: FlattenStats) => void;
  },
): Promise<SyncOutcome[]> {
  const outcomes: SyncOutcome[] = [];
  const report = (o: SyncOutcome) => {
    outcomes.push(o);
    options.onOutcome?.(o);
  };
  for (const input of wishlist.input) {
    const text = inputReference(input);
    let refs: string[];
    try {
      refs = await expandInput(text, options.client);
    } catch (err) {
      report({ reference: text, status: 'failed', error: errorOf(err), seconds: 0 });
      continue;
    }
    for (const ref of refs) {
      const started = Date.now();
      try {
        const r = await addImage(publisher, ref, {
          client: options.client,
          ...(options.platform ? { platform: options.platform } : {}),
        });
        report({ reference: r.reference, status: r.status, revision: r.revision, seconds: r.seconds });
      } catch (err) {
        report({
          reference: ref,
          status: 'failed',
          error: errorOf(err),
          seconds: (Date.now() - started) / 1000,
        });
      }
    }
  }
  return outcomes;
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
