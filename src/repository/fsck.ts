import type { Catalog } from '../catalog/index.js';
import { BargeError } from '../error/index.js';
import { type HashText, type ObjectSuffix, objectPath } from '../object/index.js';
import { runPool } from '../publish/run-pool.js';
import type { RepositoryReader } from './repository-reader.js';

/** One problem fsck found. */
export interface FsckProblem {
  key: string;
  problem: 'missing' | 'corrupt' | 'unreadable';
  detail: string;
}

/** What fsck checked and found. */
export interface FsckReport {
  revisions: { name: string; rootHash: HashText }[];
  catalogs: number;
  objects: number;
  problems: FsckProblem[];
}

/**
 * Checks that every object reachable from the current revision and from every tagged one exists
 * and hashes to its name: catalogs, file objects, chunks, the certificate and the history. Each
 * object is fetched and verified once, however many revisions share it.
 */
export async function fsck(
  reader: RepositoryReader,
  options: { concurrency?: number; tags?: boolean } = {},
): Promise<FsckReport> {
  const revisions = [{ name: 'HEAD', rootHash: reader.manifest.rootHash }];
  const objects = new Map<string, { hash: HashText; suffix: ObjectSuffix }>();
  const add = (hash: HashText, suffix: ObjectSuffix) =>
    objects.set(objectPath(hash, suffix), { hash, suffix });
  const problems: FsckProblem[] = [];
  add(reader.manifest.certificate, 'X');
  if (reader.manifest.history) {
    add(reader.manifest.history, 'H');
    if (options.tags !== false) {
      const history = await reader.history().catch((err) => {
        problems.push({
          key: objectPath(reader.manifest.history as HashText, 'H'),
          problem: 'unreadable',
          detail: (err as Error).message,
        });
        return undefined;
      });
      for (const tag of history?.tags() ?? []) revisions.push({ name: tag.name, rootHash: tag.hash });
      history?.close();
    }
  }
  // Catalogs are walked here, one at a time, so that a missing or corrupt one is reported by its
  // own key and the walk goes on with the others.
  const checked = new Set<string>();
  const stack = revisions.map((r) => ({ hash: r.rootHash, mountpoint: '' }));
  let catalogs = 0;
  while (stack.length > 0) {
    const ref = stack.pop() as { hash: HashText; mountpoint: string };
    const key = objectPath(ref.hash, 'C');
    if (checked.has(key)) continue;
    checked.add(key);
    objects.delete(key);
    let catalog: Catalog;
    try {
      catalog = await reader.catalog(ref.hash, ref.mountpoint);
    } catch (err) {
      problems.push({
        key,
        problem: classify(err),
        detail: `catalog of ${ref.mountpoint || '/'}: ${(err as Error).message}`,
      });
      continue;
    }
    catalogs++;
    for (const c of catalog.contentHashes()) {
      const k = objectPath(c.hash, c.suffix);
      if (!checked.has(k)) objects.set(k, { hash: c.hash, suffix: c.suffix });
    }
    for (const n of catalog.nestedCatalogs()) stack.push({ hash: n.hash, mountpoint: n.path });
  }
  await runPool([...objects], options.concurrency ?? 16, async ([key, { hash, suffix }]) => {
    try {
      await reader.fetchRaw(hash, suffix);
    } catch (err) {
      const code = (err as BargeError).code;
      problems.push({
        key,
        problem:
          code === 'OBJECT_NOT_FOUND' ? 'missing' : code === 'OBJECT_CORRUPT' ? 'corrupt' : 'unreadable',
        detail: (err as Error).message,
      });
    }
  });
  problems.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { revisions, catalogs, objects: objects.size, problems };
}

function classify(err: unknown): FsckProblem['problem'] {
  const code = err instanceof BargeError ? err.code : undefined;
  return code === 'OBJECT_NOT_FOUND' ? 'missing' : code === 'OBJECT_CORRUPT' ? 'corrupt' : 'unreadable';
}
