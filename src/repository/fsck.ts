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
  const seenCatalogs = new Set<string>();
  let catalogs = 0;
  for (const rev of revisions) {
    if (seenCatalogs.has(rev.rootHash)) continue;
    try {
      for await (const { hash, catalog } of reader.atRoot(rev.rootHash).catalogTree()) {
        if (seenCatalogs.has(hash)) continue;
        seenCatalogs.add(hash);
        catalogs++;
        add(hash, 'C');
        for (const ref of catalog.contentHashes()) add(ref.hash, ref.suffix);
      }
    } catch (err) {
      problems.push({
        key: `revision ${rev.name}`,
        problem: err instanceof BargeError && err.code === 'OBJECT_NOT_FOUND' ? 'missing' : 'unreadable',
        detail: (err as Error).message,
      });
    }
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
