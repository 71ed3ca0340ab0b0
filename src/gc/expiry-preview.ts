import { objectPath } from '../object/index.js';
import type { Publisher } from '../publish/index.js';

/**
 * What the retention revision of a gc would reference beyond the ledger's counts, so that a dry
 * run can plan the sweep the real run will do after publishing it.
 */
export interface ExpiryPreview {
  /** Catalog keys the new revision would name (children of the catalogs it rewrites), with counts. */
  catalogs: Map<string, number>;
  /** Content objects of the catalogs it rewrites (their new versions name the same ones). */
  objects: Map<string, number>;
}

/**
 * The references of the revision that removes `paths` (expired uploads, each its own nested
 * catalog) from the current one: the catalogs on the way to them are rewritten, naming the same
 * content objects and the same nested catalogs but the removed ones; everything else is shared.
 * Undefined when none of the paths is in the tree (no revision would be published). Reads only
 * the catalogs on those paths.
 */
export async function previewExpiry(
  publisher: Publisher,
  paths: readonly string[],
): Promise<ExpiryPreview | undefined> {
  const head = publisher.manifest;
  if (head.revision === 0 || paths.length === 0) return undefined;
  const removed = new Set(paths);
  const preview: ExpiryPreview = { catalogs: new Map(), objects: new Map() };
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  let removes = false;
  const rewrite = async (hash: string, mountpoint: string): Promise<void> => {
    const catalog = await publisher.loadCatalog(hash, mountpoint);
    try {
      for (const o of new Set(catalog.contentHashes().map((c) => objectPath(c.hash, c.suffix))))
        add(preview.objects, o);
      for (const n of catalog.nestedCatalogs()) {
        if (removed.has(n.path)) removes = true;
        else if (paths.some((p) => p.startsWith(`${n.path}/`))) await rewrite(n.hash, n.path);
        else add(preview.catalogs, objectPath(n.hash, 'C'));
      }
    } finally {
      catalog.close();
    }
  };
  await rewrite(head.rootHash, '');
  return removes ? preview : undefined;
}
